// Password hashing with Argon2id (memory-hard), at OWASP's recommended minimum cost or above.
import { hash, verify } from "@node-rs/argon2";

const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const MIN_PASSWORD_LENGTH = 8;

export const hashPassword = (password: string) => hash(password, OPTIONS);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false; // a malformed stored hash never signs anyone in
  }
}

// Verifying against this when the account doesn't exist keeps the timing the same, so response time
// doesn't reveal which emails have accounts.
let dummyHash: Promise<string> | undefined;
export async function burnVerifyTime(password: string) {
  dummyHash ??= hashPassword("atrium-timing-equalizer");
  await verifyPassword(await dummyHash, password);
}

export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `Passwords must be at least ${MIN_PASSWORD_LENGTH} characters long.`;
  if (password.trim() === "") return "A password of spaces only is too easy to guess: use letters, digits or other characters too.";
  if (password.length > 1024) return "Passwords can be at most 1024 characters long.";
  return null;
}
