// A number field of the quota, envelope and culling forms, read as typed: never "fixed up". A "-2" stays -2 and
// is refused beside the field (a form that dropped the sign saved an envelope of 2 kernels, and blocked a
// team's analysts); "2.5" kernels is not a whole number; empty is "not set" only where the field allows it.
// The rules are the server's own (server/quota/input-rules.ts), so what the form lets through the API accepts.
import { numberProblem, type NumberRule } from "@/server/quota/input-rules";

export type FieldValue = { value: number | null; error: null } | { value: null; error: string };

/**
 * What a NumberInput holds (a number, or a string while it is not one: "", "-", "1.", too many digits), as a
 * value to send or the problem to show. `empty`: what an empty field means ("not set": null), or that it is
 * required.
 */
export function readNumberField(raw: string | number | null | undefined, rule: NumberRule, empty: "null" | "required" = "null"): FieldValue {
  const text = typeof raw === "number" ? null : (raw ?? "").trim();
  if (text === "") return empty === "null" ? { value: null, error: null } : { value: null, error: `${rule.label} is required` };
  const value = typeof raw === "number" ? raw : Number(text);
  if (Number.isNaN(value)) return { value: null, error: `${rule.label} must be a number` };
  const problem = numberProblem(rule, value);
  return problem ? { value: null, error: problem } : { value, error: null };
}

/** The fields' problems, by key; empty when every field can be saved. */
export function fieldErrors<K extends string>(fields: Record<K, FieldValue>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [key, field] of Object.entries(fields) as [K, FieldValue][]) if (field.error) out[key] = field.error;
  return out;
}

/**
 * Props every one of these NumberInputs shares: what is typed stays as typed (a sign, a decimal point) and is
 * never clamped on blur, so the check above sees it and says what is wrong.
 */
export const AS_TYPED = { allowNegative: true, allowDecimal: true, clampBehavior: "none" } as const;
