/** A pipeline this runner cannot execute. Raised at Prepare, before any work starts. */
export class UnsupportedPipelineError extends Error {
  override name = "UnsupportedPipelineError";
  constructor(
    message: string,
    /** The transform's unique name, when one transform is to blame. */
    readonly transform?: string,
    options?: ErrorOptions,
  ) {
    super(transform ? `transform '${transform}': ${message}` : message, options);
  }
}

/**
 * A pipeline proto that is not well formed: a dangling reference, a cycle in the transform
 * hierarchy or among coders, a missing required field. No runner could execute it.
 */
export class MalformedPipelineError extends UnsupportedPipelineError {
  override name = "MalformedPipelineError";
  constructor(
    message: string,
    /** Each problem found, naming the component kind and id. */
    readonly problems: readonly string[] = [message],
    options?: ErrorOptions,
  ) {
    super(message, undefined, options);
  }
}
