// The whole tRPC API, one router per domain.
import { router } from "./init";
import { adminRouter } from "./routers/admin";
import { filesRouter } from "./routers/files";
import { meRouter } from "./routers/me";
import { notebooksRouter } from "./routers/notebooks";
import { kernelsRouter } from "./routers/kernels";
import { quotasRouter } from "./routers/quotas";
import { usageRouter } from "./routers/usage";

export const appRouter = router({
  me: meRouter,
  admin: adminRouter,
  files: filesRouter,
  notebooks: notebooksRouter,
  kernels: kernelsRouter,
  quotas: quotasRouter,
  usage: usageRouter,
});

export type AppRouter = typeof appRouter;
