// The whole tRPC API, one router per domain.
import { router } from "./init";
import { adminRouter } from "./routers/admin";
import { filesRouter } from "./routers/files";
import { meRouter } from "./routers/me";
import { notebooksRouter } from "./routers/notebooks";

export const appRouter = router({
  me: meRouter,
  admin: adminRouter,
  files: filesRouter,
  notebooks: notebooksRouter,
});

export type AppRouter = typeof appRouter;
