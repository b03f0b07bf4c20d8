// Helpers for integration tests that talk to a real kernel over ZeroMQ (launcher tests: local, remote,
// YARN, Kubernetes). Test-only; every wait has a deadline.
import type { TestContext } from 'node:test';
import { KernelConnection, type ConnectionInfo, type KernelConnectionOptions, type KernelLogger } from './connection';
import type { ChannelMessage } from './protocol/messages';

/** Kernel logs stay out of test output (a test asserts on what matters). */
export const quietKernelLog: KernelLogger = { debug() {}, warn() {}, error() {} };

/** A connection to the kernel, ready on shell and iopub within `deadlineMs`, closed when the test ends. */
export async function connectForTest(
  t: TestContext,
  kernel: { kernelId: string; connectionInfo: ConnectionInfo },
  deadlineMs: number,
  options: KernelConnectionOptions = { heartbeat: false, logger: quietKernelLog },
): Promise<KernelConnection> {
  const connection = new KernelConnection(kernel.connectionInfo, { label: kernel.kernelId, ...options });
  t.after(() => connection.close());
  await connection.waitForReady(deadlineMs);
  return connection;
}

/** The first message matching `accept`, or a rejection naming `what` at the deadline. */
export function nextMessage(connection: KernelConnection, accept: (msg: ChannelMessage) => boolean, deadlineMs: number, what: string): Promise<ChannelMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${what} within ${deadlineMs} ms`));
    }, deadlineMs);
    const off = connection.onMessage((msg) => {
      if (!accept(msg)) return;
      clearTimeout(timer);
      off();
      resolve(msg);
    });
  });
}
