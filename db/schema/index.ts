// Every table, by domain. Kernels, quotas and usage get files of their own beside these.
export * from "./identity";
export * from "./security";
export * from "./kernels";
export * from "./notebooks";
export * from "./quotas";
export * from "./usage";
export * from "./installation";
