/**
 * Calls made during one turn of the event loop, sent together at its end (`setImmediate`): one
 * round trip and one script for all of them instead of one each. Nothing waits longer than it
 * would have for its own command, which would go out at the end of the turn too; what is saved is
 * the per-command work on both sides (a Redis command measured ~25 µs of the gateway's CPU).
 */
export class TickBatch<In, Out> {
  private inputs: In[] = [];
  private waiting: PromiseWithResolvers<Out>[] = [];
  private scheduled: ReturnType<typeof setImmediate> | undefined;
  /** The last batch sent, until it is answered. */
  private sending: Promise<unknown> = Promise.resolve();

  /** `send` answers each input in order, or rejects for all of them. */
  constructor(private readonly send: (inputs: In[]) => Promise<Out[]>) {}

  add(input: In): Promise<Out> {
    const done = Promise.withResolvers<Out>();
    this.inputs.push(input);
    this.waiting.push(done);
    this.scheduled ??= setImmediate(() => void this.flush());
    return done.promise;
  }

  /** Sends what waits now (shutdown); resolves once it, and the batch before it, are answered. */
  flush(): Promise<void> {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const inputs = this.inputs;
    const waiting = this.waiting;
    if (inputs.length === 0) return this.sending.then(() => {});
    this.inputs = [];
    this.waiting = [];
    const sent = this.send(inputs).then(
      (outs) => {
        for (let i = 0; i < waiting.length; i++) waiting[i]!.resolve(outs[i]!);
      },
      (err: unknown) => {
        for (const done of waiting) done.reject(err);
      },
    );
    this.sending = sent;
    return sent;
  }
}
