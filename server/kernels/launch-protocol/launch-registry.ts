// Pending launches of this portal process, and the matching of incoming payloads to them.
// No sockets (response-listener.ts feeds it bytes), so matching, one-time tokens and replays are unit-tested.
//
// Lifecycle of a launch: register() -> ticket (public key, token) handed to the launcher -> accept(payload)
// settles it -> waitFor() returns the info and forgets the launch. waitFor's deadline or cancel() also
// forgets it. A forgotten launch's token stays remembered for a while, so a late or repeated payload gets a
// precise error (REPLAYED_PAYLOAD / LAUNCH_CLOSED) instead of UNKNOWN_LAUNCH.
import { AppError } from '../../errors';
import { LaunchPayloadError } from './errors';
import { issueLaunchToken, launchTokenId, ServerKeys } from './keys';
import type { LaunchKeyPair } from './keys';
import { openV1, openV2, parseEnvelope, PROTOCOL_V1, PROTOCOL_V2 } from './payload';
import type { LaunchedConnectionInfo, LaunchProtocolVersion } from './payload';

/** What a launcher class substitutes into the kernelspec's argv. */
export interface LaunchTicket {
  kernelId: string;
  protocolVersion: LaunchProtocolVersion;
  /** `{public_key}`: base64 DER SubjectPublicKeyInfo (X25519 for v2, RSA for v1). */
  publicKey: string;
  /** `{launch_token}`: v2 only. A secret for this launch; never log it. */
  launchToken?: string;
}

interface Pending {
  kernelId: string;
  version: LaunchProtocolVersion;
  keys: LaunchKeyPair;
  token?: string;
  tokenId?: string;
  result?: LaunchedConnectionInfo;
  settle: (info: LaunchedConnectionInfo) => void;
  fail: (error: Error) => void;
  promise: Promise<LaunchedConnectionInfo>;
}

type Retired = 'used' | 'closed';

export interface LaunchRegistryOptions {
  keys?: ServerKeys;
  /** How many forgotten launches to remember for precise replay errors. */
  rememberRetired?: number;
  /** Token source; tests pass a fixed one to replay committed vectors. */
  issueToken?: () => string;
}

export class LaunchRegistry {
  private readonly keys: ServerKeys;
  private readonly byKernelId = new Map<string, Pending>();
  private readonly byTokenId = new Map<string, Pending>();
  /** Keyed by token id (v2) or `v1:<kernel id>`; insertion-ordered, trimmed to rememberRetired. */
  private readonly retired = new Map<string, Retired>();
  private readonly rememberRetired: number;
  private readonly issueToken: () => string;

  constructor(options: LaunchRegistryOptions = {}) {
    this.keys = options.keys ?? new ServerKeys();
    this.rememberRetired = options.rememberRetired ?? 10_000;
    this.issueToken = options.issueToken ?? issueLaunchToken;
  }

  get pendingCount(): number {
    return this.byKernelId.size;
  }

  /** Start expecting a payload for `kernelId`. Throws if that kernel already has a pending launch. */
  async register(kernelId: string, options: { protocolVersion?: LaunchProtocolVersion } = {}): Promise<LaunchTicket> {
    const version = options.protocolVersion ?? PROTOCOL_V2;
    if (this.byKernelId.has(kernelId)) throw new Error(`kernel ${kernelId} already has a pending launch`);
    const keys = version === PROTOCOL_V2 ? this.keys.forV2Launch() : await this.keys.forV1Launch();
    if (this.byKernelId.has(kernelId)) throw new Error(`kernel ${kernelId} already has a pending launch`);
    let settle!: (info: LaunchedConnectionInfo) => void;
    let fail!: (error: Error) => void;
    const promise = new Promise<LaunchedConnectionInfo>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    promise.catch(() => {}); // rejections are delivered through waitFor; none may go unhandled meanwhile
    const pending: Pending = { kernelId, version, keys, settle, fail, promise };
    if (version === PROTOCOL_V2) {
      pending.token = this.issueToken();
      pending.tokenId = launchTokenId(pending.token);
      this.byTokenId.set(pending.tokenId, pending);
    }
    this.byKernelId.set(kernelId, pending);
    return {
      kernelId,
      protocolVersion: version,
      publicKey: keys.publicKey,
      ...(pending.token !== undefined && { launchToken: pending.token }),
    };
  }

  /**
   * Match a payload to its pending launch, decrypt, validate and settle it. Throws LaunchPayloadError;
   * a payload that fails authentication does not consume the launch (a stranger's garbage cannot cancel it).
   */
  accept(raw: Buffer | string, context: { peerAddress?: string } = {}): LaunchedConnectionInfo {
    const envelope = parseEnvelope(raw);
    let info: LaunchedConnectionInfo;
    let pending: Pending;
    if (envelope.version === PROTOCOL_V2) {
      const found = this.byTokenId.get(envelope.token_id);
      if (!found) throw this.unmatched(envelope.token_id, envelope.kernel_id);
      pending = found;
      if (pending.result) throw replayed(pending.kernelId);
      info = openV2(envelope, {
        privateKey: pending.keys.privateKey,
        kernelId: pending.kernelId,
        launchToken: pending.token!,
        tokenId: pending.tokenId!,
      });
    } else {
      const rsa = this.keys.v1IfGenerated();
      if (!rsa) throw new LaunchPayloadError('UNKNOWN_LAUNCH', 'v1 payload, but no v1 launch was ever registered');
      info = openV1(envelope, rsa.privateKey);
      const found = this.byKernelId.get(info.kernelId);
      if (!found) throw this.unmatched(`v1:${info.kernelId}`, info.kernelId);
      pending = found;
      if (pending.version !== PROTOCOL_V1) {
        throw new LaunchPayloadError(
          'PROTOCOL_MISMATCH',
          `v1 payload for kernel ${info.kernelId}, whose launch requires v2: downgrade refused`,
          info.kernelId,
        );
      }
      if (pending.result) throw replayed(pending.kernelId);
    }
    const settled = context.peerAddress ? { ...info, peerAddress: context.peerAddress } : info;
    pending.result = settled;
    pending.settle(settled);
    return settled;
  }

  /**
   * Resolve with the launch's connection info, or reject with AppError LAUNCH_TIMEOUT at `deadlineMs`
   * (epoch milliseconds, as Date.now()). Either way the launch is forgotten afterwards.
   */
  async waitFor(kernelId: string, deadlineMs: number): Promise<LaunchedConnectionInfo> {
    const pending = this.byKernelId.get(kernelId);
    if (!pending) throw new Error(`no pending launch for kernel ${kernelId}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AppError(
              'LAUNCH_TIMEOUT',
              `Kernel ${kernelId} did not report its connection info in time. ` +
                'The launcher may have failed to start or cannot reach the response address.',
              { kernelId, protocolVersion: pending.version },
            ),
          ),
        Math.max(0, deadlineMs - Date.now()),
      );
    });
    try {
      return await Promise.race([pending.promise, timeout]);
    } finally {
      clearTimeout(timer);
      this.forget(pending, pending.result ? 'used' : 'closed');
    }
  }

  /** Stop expecting a payload (launch abandoned). A pending waitFor rejects with `reason`. */
  cancel(kernelId: string, reason = 'launch cancelled'): void {
    const pending = this.byKernelId.get(kernelId);
    if (!pending) return;
    pending.fail(new Error(`kernel ${kernelId}: ${reason}`));
    this.forget(pending, pending.result ? 'used' : 'closed');
  }

  cancelAll(reason: string): void {
    for (const kernelId of [...this.byKernelId.keys()]) this.cancel(kernelId, reason);
  }

  private forget(pending: Pending, how: Retired): void {
    if (this.byKernelId.get(pending.kernelId) !== pending) return;
    this.byKernelId.delete(pending.kernelId);
    if (pending.tokenId) this.byTokenId.delete(pending.tokenId);
    this.retired.set(pending.tokenId ?? `v1:${pending.kernelId}`, how);
    while (this.retired.size > this.rememberRetired) {
      this.retired.delete(this.retired.keys().next().value!);
    }
  }

  private unmatched(retiredKey: string, kernelId: string): LaunchPayloadError {
    const retired = this.retired.get(retiredKey);
    if (retired === 'used') return replayed(kernelId);
    if (retired === 'closed') {
      return new LaunchPayloadError('LAUNCH_CLOSED', `payload for kernel ${kernelId} arrived after its launch ended`, kernelId);
    }
    return new LaunchPayloadError('UNKNOWN_LAUNCH', `no pending launch matches this payload (kernel ${kernelId})`, kernelId);
  }
}

function replayed(kernelId: string): LaunchPayloadError {
  return new LaunchPayloadError(
    'REPLAYED_PAYLOAD',
    `kernel ${kernelId} already received its connection info; this payload is a replay`,
    kernelId,
  );
}
