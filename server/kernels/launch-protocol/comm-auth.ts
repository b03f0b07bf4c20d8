// Pure: the v2 comm-port request format and its MAC. Must match atrium_launcher/comm_server.py and crypto.py.
import { createHmac } from 'node:crypto';
import { z } from 'zod';

export type CommRequest = { signum: number } | { shutdown: 1 };

const COMM_MAC_LABEL = Buffer.from('atrium-comm/2\0', 'utf8');

export function commMac(commKey: Buffer, body: string): string {
  return createHmac('sha256', commKey).update(COMM_MAC_LABEL).update(body, 'utf8').digest('base64url');
}

/** The one line the server sends after the launcher's challenge (newline included). */
export function signCommRequest(commKey: Buffer, kernelId: string, challenge: string, request: CommRequest): string {
  const body = JSON.stringify({ kernel_id: kernelId, challenge, request });
  return `${JSON.stringify({ body, mac: commMac(commKey, body) })}\n`;
}

const challengeSchema = z.object({ version: z.literal(2), challenge: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/) });
const replySchema = z.object({ ok: z.boolean(), error: z.string().optional() });

export function parseChallenge(line: string): string | null {
  try {
    const parsed = challengeSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data.challenge : null;
  } catch {
    return null;
  }
}

export function parseReply(line: string): { ok: boolean; error?: string } | null {
  try {
    const parsed = replySchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
