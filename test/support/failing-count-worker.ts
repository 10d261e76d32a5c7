// A counting worker that fails as it is told by the batch's encoding: "throw" throws out of its
// handler (an error event), "exit" ends the thread with the batch unanswered.
declare const self: Worker;

self.onmessage = (event: MessageEvent<{ encoding: string }>) => {
  if (event.data.encoding === "exit") process.exit(0);
  throw new Error("the counting worker broke");
};
