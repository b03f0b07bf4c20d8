// Matching payloads to pending launches: one-time tokens, replays, downgrades, deadlines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isAppError } from '../../errors';
import { LaunchPayloadError } from './errors';
import { LaunchRegistry } from './launch-registry';
import { mutateV2, vectorKeys, vectors, vectorToken } from './test-vectors';

const soon = () => Date.now() + 5_000;

function registry() {
  return new LaunchRegistry({ keys: vectorKeys(), issueToken: vectorToken });
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LaunchPayloadError, `expected LaunchPayloadError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a LaunchPayloadError');
}

describe('LaunchRegistry', () => {
  it('issues a v2 ticket with an X25519 key and a token, then settles the waiter', async () => {
    const r = registry();
    const ticket = await r.register(vectors.v2.kernelId);
    assert.equal(ticket.protocolVersion, 2);
    assert.equal(ticket.publicKey, vectors.v2.serverPublicKey);
    assert.equal(ticket.launchToken, vectors.v2.launchToken);
    const waiting = r.waitFor(vectors.v2.kernelId, soon());
    r.accept(vectors.v2.wire, { peerAddress: '10.0.0.7' });
    const info = await waiting;
    assert.equal(info.kernelId, vectors.v2.kernelId);
    assert.equal(info.peerAddress, '10.0.0.7');
    assert.equal(r.pendingCount, 0);
  });

  it('a payload arriving before waitFor is kept for it', async () => {
    const r = registry();
    await r.register(vectors.v2.kernelId);
    r.accept(vectors.v2.wire);
    assert.equal((await r.waitFor(vectors.v2.kernelId, soon())).kernelId, vectors.v2.kernelId);
  });

  it('rejects a replayed payload, before and after the launch was collected', async () => {
    const r = registry();
    await r.register(vectors.v2.kernelId);
    r.accept(vectors.v2.wire);
    assert.equal(code(() => r.accept(vectors.v2.wire)), 'REPLAYED_PAYLOAD');
    await r.waitFor(vectors.v2.kernelId, soon());
    assert.equal(code(() => r.accept(vectors.v2.wire)), 'REPLAYED_PAYLOAD');
  });

  it('rejects a payload whose token it never issued', async () => {
    const r = new LaunchRegistry({ keys: vectorKeys() }); // random tokens: the vector's token is unknown
    await r.register(vectors.v2.kernelId);
    assert.equal(code(() => r.accept(vectors.v2.wire)), 'UNKNOWN_LAUNCH');
  });

  it('rejects a payload naming another kernel than its token was issued for', async () => {
    const r = registry();
    await r.register(vectors.v2.kernelId);
    const renamed = mutateV2((e) => void (e.kernel_id = 'another-kernel'));
    assert.equal(code(() => r.accept(renamed)), 'KERNEL_ID_MISMATCH');
  });

  it('a forged payload does not consume the launch: the genuine one still settles it', async () => {
    const r = registry();
    await r.register(vectors.v2.kernelId);
    const forged = mutateV2((e) => void (e.nonce = Buffer.alloc(12, 7).toString('base64url')));
    assert.equal(code(() => r.accept(forged)), 'FORGED_PAYLOAD');
    r.accept(vectors.v2.wire);
    assert.equal((await r.waitFor(vectors.v2.kernelId, soon())).protocolVersion, 2);
  });

  it('v1: settles by kernel id; refuses a v1 payload for a v2 launch (downgrade)', async () => {
    const r = registry();
    const ticket = await r.register(vectors.v1.kernelId, { protocolVersion: 1 });
    assert.equal(ticket.launchToken, undefined);
    assert.equal(ticket.publicKey, vectors.v1.serverPublicKey);
    r.accept(vectors.v1.wire);
    assert.equal((await r.waitFor(vectors.v1.kernelId, soon())).protocolVersion, 1);
    assert.equal(code(() => r.accept(vectors.v1.wire)), 'REPLAYED_PAYLOAD');

    const downgrade = registry();
    await downgrade.register(vectors.v1.kernelId, { protocolVersion: 1 }); // makes the RSA key exist
    downgrade.cancel(vectors.v1.kernelId);
    await downgrade.register(vectors.v1.kernelId, { protocolVersion: 2 });
    assert.equal(code(() => downgrade.accept(vectors.v1.wire)), 'PROTOCOL_MISMATCH');
  });

  it('waitFor rejects with LAUNCH_TIMEOUT at the deadline and a late payload gets LAUNCH_CLOSED', async () => {
    const r = registry();
    await r.register(vectors.v2.kernelId);
    await assert.rejects(r.waitFor(vectors.v2.kernelId, Date.now() + 20), (err: unknown) => {
      assert.ok(isAppError(err) && err.code === 'LAUNCH_TIMEOUT');
      assert.match(err.message, new RegExp(vectors.v2.kernelId));
      return true;
    });
    assert.equal(code(() => r.accept(vectors.v2.wire)), 'LAUNCH_CLOSED');
  });

  it('cancel rejects the waiter; a second register for a pending kernel is refused', async () => {
    const r = registry();
    await r.register('k1');
    await assert.rejects(r.register('k1'), /already has a pending launch/);
    const waiting = r.waitFor('k1', soon());
    r.cancel('k1', 'user gave up');
    await assert.rejects(waiting, /user gave up/);
  });
});
