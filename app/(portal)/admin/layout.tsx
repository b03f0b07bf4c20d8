import { forbidden } from "next/navigation";
import type { ReactNode } from "react";
import { currentUser } from "@/server/auth/current-user";
import { AdminTabs } from "./admin-tabs";

// Admin pages answer 403 to everyone else; the admin procedures refuse them on their own as well.
export default async function AdminLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (user?.role !== "admin") forbidden();
  return (
    <>
      <AdminTabs />
      {children}
    </>
  );
}
