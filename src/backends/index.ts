// The backends module's public surface: only what loads no cloud SDK. Concrete backends are
// reached through the registry, which imports each one when it starts.
export type { Backend } from "./backend.js";
export {
  BACKEND_NAMES,
  type BackendConfigs,
  type BackendDefinition,
  type BackendName,
  type BackendTraits,
  type FlagSpec,
  type FlagValues,
  backendDefinition,
  isBackendName,
} from "./backend-registry.js";
export { ExecutorBackend } from "./executor-backend.js";
export { RoutingBackend } from "./routing-backend.js";
