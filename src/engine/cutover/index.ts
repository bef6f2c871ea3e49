// The cutover engine (no Temporal): window check, write freeze and its undo, draining CDC to the
// freeze point, sequences moved past the source's, the application switch, and the freeze measured.
// The order a cutover runs them: checkWindow → freezeWrites → waitForZeroLag → syncSequencesAbove →
// runSwitchHook → measureFreeze; on failure before the switch, FreezeHandle.undo (or undoFreeze).
export * from './window';
export * from './freeze';
export * from './lag';
export * from './sequences';
export * from './hooks';
export * from './report';
