// Typed failures of the launch protocol. These are not user-caused errors (those are AppError in server/errors.ts):
// a launcher class catches them and turns a launch that never got valid connection info into LAUNCH_FAILED or
// LAUNCH_TIMEOUT. The messages name the kernel and never include payload contents (they may hold HMAC keys).

export type LaunchPayloadErrorCode =
  /** Not JSON / not base64 JSON / missing or mistyped envelope fields, or over the size limit. */
  | 'MALFORMED_PAYLOAD'
  /** A `version` this server does not speak. */
  | 'UNSUPPORTED_VERSION'
  /** Decryption or authentication failed: tampered, wrong key, or not made with the issued token. */
  | 'FORGED_PAYLOAD'
  /** No pending launch has this token (v2) or kernel id (v1). */
  | 'UNKNOWN_LAUNCH'
  /** The launch already received its connection info: a second payload for it is a replay. */
  | 'REPLAYED_PAYLOAD'
  /** The launch was cancelled or timed out before the payload came. */
  | 'LAUNCH_CLOSED'
  /** The payload's kernel id is not the one the token was issued for. */
  | 'KERNEL_ID_MISMATCH'
  /** A v1 payload for a launch registered for v2 (a downgrade), or the reverse. */
  | 'PROTOCOL_MISMATCH'
  /** Decrypted fine, but the connection info is not valid (ports, key, scheme...). */
  | 'INVALID_CONNECTION_INFO';

export class LaunchPayloadError extends Error {
  constructor(
    readonly code: LaunchPayloadErrorCode,
    message: string,
    readonly kernelId?: string,
  ) {
    super(message);
    this.name = 'LaunchPayloadError';
  }
}

export type CommPortErrorCode =
  /** Nothing listens there (the launcher exited) or the network refused. */
  | 'COMM_UNREACHABLE'
  /** The deadline passed before the exchange finished. */
  | 'COMM_TIMEOUT'
  /** The launcher answered and refused the request (bad MAC, wrong kernel...). */
  | 'COMM_REFUSED'
  /** The launcher's answer was not the protocol (wrong version on one side?). */
  | 'COMM_PROTOCOL';

export class CommPortError extends Error {
  constructor(
    readonly code: CommPortErrorCode,
    message: string,
    readonly kernelId: string,
    readonly address: string,
  ) {
    super(message);
    this.name = 'CommPortError';
  }
}
