// A size a launcher can never run (a YARN driver needs 896 MB) is refused before admission: no row, no usage, no
// launch, with the launcher's reason; it is not offered in the start dialog either. The launcher here says only which
// sizes it refuses (YARN's real rule is yarnSizeRefusal, tested in yarn-submit.test.ts): what is tested is the
// manager's use of it against a real database.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { kernels } from "@/db/schema";
import { openTestDatabase, testDbKind } from "@/db/testing";
import type { AppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import type { SizeProfile } from "@/server/quota/sizes";
import type { Kernelspec } from "./kernelspecs";
import { LauncherRegistry, type Launcher } from "./launchers/base";
import { yarnSizeRefusal } from "./launchers/yarn-submit";
import { KernelManager } from "./manager";

class SizedLauncher implements Launcher {
  readonly name = "sized";
  launches = 0;
  sizeRefusal(size: SizeProfile) {
    return yarnSizeRefusal(size);
  }
  launch(): never {
    this.launches++;
    throw new Error("a refused size must not be launched");
  }
  restore(): never {
    throw new Error("not used");
  }
}

const spec = (sizes: Record<string, { vcores: number; memory_mb: number }>, defaultSize: string): Kernelspec => ({
  name: "sized_python",
  resourceDir: "/nonexistent",
  spec: {
    argv: ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    display_name: "Sized",
    language: "python",
    interrupt_mode: "signal",
    env: {},
    metadata: { atrium: { launcher: "sized", config: { sizes, default_size: defaultSize } } },
  },
});

describe(`sizes a launcher cannot run, on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let user: UserRow;
  before(async () => {
    ({ db, close } = await openTestDatabase());
    user = await createUser(db, cliActor, { email: "sized@example.com", password: "sized-pass-123" });
  });
  after(() => close());

  it("is refused before admission with the launcher's reason, and is not offered", async () => {
    const launcher = new SizedLauncher();
    const kernelspec = spec({ tiny: { vcores: 1, memory_mb: 512 }, small: { vcores: 1, memory_mb: 2048 }, large: { vcores: 4, memory_mb: 16384 } }, "tiny");
    const manager = new KernelManager({ db, secret: "s".repeat(40), launchers: new LauncherRegistry().register(launcher), kernelspecs: new Map([[kernelspec.name, kernelspec]]) });

    const offered = manager.offeredSizes(kernelspec);
    assert.deepEqual(offered.sizes.map((s) => s.name), ["small", "large"]);
    assert.equal(offered.defaultSize, "small", "a default the launcher cannot run gives way to the first size offered");

    await assert.rejects(
      manager.begin(user, { name: kernelspec.name, size: "tiny" }),
      (error: AppError) => error.code === "BAD_REQUEST" && /^Size tiny \(1 vCore, 0\.5 GB\) is too small for a Spark driver on YARN, which needs at least 896 MB/.test(error.message),
    );
    assert.equal((await db.select().from(kernels).where(eq(kernels.ownerId, user.id))).length, 0, "nothing admitted: no row, no quota used");
    assert.equal(launcher.launches, 0);
  });
});
