export { handler } from "./handler.js";
export { TaskRunner } from "./task-runner.js";
