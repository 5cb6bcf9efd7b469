/**
 * Open WebSocket connections per client address, for
 * PULSE_GATEWAY_MAX_CONNECTIONS_PER_IP: one address cannot take the whole
 * gateway's capacity. A connection holds its slot until its socket closed,
 * closing included, so a client cannot outrun the count by reconnecting.
 */
export class ConnectionQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerAddress: number) {}

  /** Takes a slot for `address`; false, taking nothing, when it holds its maximum. */
  acquire(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.maxPerAddress) return false;
    this.open.set(address, n + 1);
    return true;
  }

  /** Gives back a slot taken by `acquire`; forgets the address at zero, so the map holds only open ones. */
  release(address: string): void {
    const n = this.open.get(address) ?? 0;
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
  }

  /** Open connections of `address`. */
  of(address: string): number {
    return this.open.get(address) ?? 0;
  }
}
