"use client";
import { Tabs } from "@mantine/core";
import { usePathname, useRouter } from "next/navigation";

const tabs = [
  { value: "/admin/users", label: "Users" },
  { value: "/admin/teams", label: "Teams" },
  { value: "/admin/quotas", label: "Quotas" },
  { value: "/admin/usage", label: "Usage" },
  { value: "/admin/kernels", label: "Kernels" },
  { value: "/admin/audit", label: "Audit log" },
];

export function AdminTabs() {
  const pathname = usePathname();
  const router = useRouter();
  return (
    <Tabs value={tabs.find((t) => pathname.startsWith(t.value))?.value ?? null} onChange={(v) => v && router.push(v)} mb="md">
      <Tabs.List>
        {tabs.map((t) => (
          <Tabs.Tab key={t.value} value={t.value}>
            {t.label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
    </Tabs>
  );
}
