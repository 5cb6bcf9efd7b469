/**
 * The distinct views a gateway serves, counted by the clients on each, and
 * their ceiling (PULSE_GATEWAY_MAX_VIEWS, docs/PROTOCOL.md §5.9). Each
 * distinct view costs a build per snapshot whatever its number of clients, so
 * one client opening connections with random filters could spend the
 * gateway's core; past the ceiling a subscribe that would add a view is
 * refused (its client keeps the filters it had), while one joining a view
 * already served always succeeds.
 */
import { UNFILTERED_VIEW } from './client-session.js';

export class ViewRegistry {
  private readonly clients = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Distinct filtered views served (the unfiltered one is always served, and not counted). */
  get size(): number {
    return this.clients.size;
  }

  /** Clients on view `key`. */
  clientsOf(key: string): number {
    return key === UNFILTERED_VIEW ? 0 : (this.clients.get(key) ?? 0);
  }

  /** Whether a client on view `from` may move to view `to`: it is served already, or there is room (counting the one `from` frees). */
  admits(from: string, to: string): boolean {
    if (to === UNFILTERED_VIEW || this.clients.has(to)) return true;
    const freed = from !== UNFILTERED_VIEW && this.clients.get(from) === 1 ? 1 : 0;
    return this.clients.size - freed < this.max;
  }

  /** A client moves from view `from` to view `to` (either may be the unfiltered one). */
  move(from: string, to: string): void {
    if (from === to) return;
    this.release(from);
    if (to !== UNFILTERED_VIEW) this.clients.set(to, (this.clients.get(to) ?? 0) + 1);
  }

  /** A client on view `key` left. */
  release(key: string): void {
    if (key === UNFILTERED_VIEW) return;
    const left = (this.clients.get(key) ?? 1) - 1;
    if (left <= 0) this.clients.delete(key);
    else this.clients.set(key, left);
  }
}
