/**
 * Under `npm start` the launcher spawns the api and the worker with an IPC channel. If the launcher dies
 * without stopping them (kill -9, an OOM kill), the channel closes and this process stops as on SIGTERM
 * (draining first) instead of living on with its port. Run on its own, without a channel, it does nothing.
 */
export function stopWhenLauncherGone(): void {
  if (!process.channel) return;
  process.channel.unref(); // the channel alone must not keep a stopping process alive
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
