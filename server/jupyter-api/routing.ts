// Who gets a kernel message, as a pure rule (tested by a table of cases):
// - iopub is broadcast: every client of the kernel sees outputs and status, whoever asked;
// - shell, control and stdin messages are replies (or input requests) to one request: they go only to the
//   client whose session sent it, i.e. whose sessions include the message's `parent_header.session`.
//   Messages answering nobody's session (the portal's own kernel_info requests) go to no client.
// A client's sessions are learned from the headers it sends (plus `?session_id=` from its URL); a client
// cannot claim more than MAX_SESSIONS of them, the oldest being forgotten first.
import type { ChannelMessage } from "@/server/kernels/protocol/messages";

export const MAX_SESSIONS = 32;

export function isForClient(msg: ChannelMessage, sessions: ClientSessions): boolean {
  if (msg.channel === "iopub") return true;
  const session = msg.parent_header.session;
  return typeof session === "string" && sessions.has(session);
}

/** The sessions one WebSocket client has used, most recent last, bounded. */
export class ClientSessions {
  private readonly sessions = new Set<string>();

  constructor(initial?: string | null) {
    if (initial) this.add(initial);
  }

  add(session: string): void {
    if (this.sessions.has(session)) {
      // Keep the live ones: move to the end so eviction takes the least recently used.
      this.sessions.delete(session);
    } else if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.values().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.add(session);
  }

  has(session: string): boolean {
    return this.sessions.has(session);
  }

  /** Takes on another client's sessions (a client that reconnected), keeping this one's most recent. */
  addFrom(other: ClientSessions): void {
    const own = [...this.sessions];
    for (const session of [...other.sessions, ...own]) this.add(session);
  }

  get size(): number {
    return this.sessions.size;
  }
}
