// A counting process that fails as it is told by the batch's encoding: "throw" throws out of its
// handler (the process dies of it), "exit" ends the process with the batch unanswered.
process.on("message", (request: { encoding: string }) => {
  if (request.encoding === "exit") process.exit(0);
  throw new Error("the counting process broke");
});
