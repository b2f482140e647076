/** Bad arguments or configuration: the CLI prints `medlaunch-elt: <message>` on one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
