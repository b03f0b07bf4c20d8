// What a wakeup costs on this machine: a plain Node TCP ping-pong between two processes, wall and CPU per round
// trip per side. Run as is (the OS places both processes), and under `taskset -c 0` (both on one CPU).
//   node bench/wakeup-cost.mjs; taskset -c 0 node bench/wakeup-cost.mjs
import net from 'node:net';
import { fork } from 'node:child_process';
if (process.argv[2] === 'server') {
  const s = net.createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); }).listen(0, '127.0.0.1', () => process.send(s.address().port));
  process.on('message', (m) => { if (m === 'cpu') { const u = process.cpuUsage(); process.send({ cpu: u.user + u.system }); } });
} else {
  const child = fork(new URL(import.meta.url).pathname, ['server']);
  const port = await new Promise((r) => child.once('message', r));
  const sock = net.connect(port, '127.0.0.1'); sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  let resolve; sock.on('data', () => resolve());
  const rt = () => new Promise((r) => { resolve = r; sock.write('x'.repeat(300)); });
  for (let i = 0; i < 2000; i++) await rt();
  const srvCpu = async () => { child.send('cpu'); return (await new Promise((r) => child.once('message', r))).cpu; };
  const s0 = await srvCpu(); const c0 = process.cpuUsage(); const t0 = performance.now(); const N = 20000;
  for (let i = 0; i < N; i++) await rt();
  const wall = performance.now() - t0; const c = process.cpuUsage(c0); const s1 = await srvCpu();
  console.log(`tcp rt: wall ${(wall / N * 1000).toFixed(1)} us; client cpu ${((c.user + c.system) / N).toFixed(1)} us; server cpu ${((s1 - s0) / N).toFixed(1)} us`);
  child.kill(); process.exit(0);
}
