// The whole tRPC API, one router per domain.
import { router } from "./init";
import { adminRouter } from "./routers/admin";
import { meRouter } from "./routers/me";

export const appRouter = router({
  me: meRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
