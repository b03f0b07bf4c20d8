/** Who is doing something, for the audit log: a signed-in user, or the command line / the system. */
export interface Actor {
  id: string | null;
  label: string;
}

export const cliActor: Actor = { id: null, label: "cli" };
export const systemActor: Actor = { id: null, label: "system" };
