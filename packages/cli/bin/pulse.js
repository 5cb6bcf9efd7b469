#!/usr/bin/env node
// The `pulse` command. A committed, executable shim: npm links bins at install time, before
// `prepare` (tsc -b) has built dist/, so the bin cannot point at a file that does not exist yet.
import '../dist/main.js';
