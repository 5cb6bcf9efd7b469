export { Reporter, type ReporterError, type ReporterEvent, type ReporterOptions, type ReporterStats } from './reporter.js';
