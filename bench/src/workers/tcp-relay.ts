/**
 * The proxy scenario's reference hop: a bare TCP relay, one process between
 * client and upstream that copies bytes both ways and understands nothing.
 * Whatever it adds is what any extra process on the path costs on this
 * machine (wake-ups, scheduling, two more socket copies), and sets the
 * floor under the proxy's own figures.
 *
 * Usage: node tcp-relay.js <listen port> <upstream port>
 */
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort) throw new Error('usage: tcp-relay.js <listen port> <upstream port>');

net
  .createServer({ noDelay: true }, (caller) => {
    const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    caller.pipe(upstream).pipe(caller);
    caller.on('error', () => upstream.destroy());
    upstream.on('error', () => caller.destroy());
  })
  .listen(listenPort, '127.0.0.1');
