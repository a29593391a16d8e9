import type { Command } from 'commander';
import type { Config, ConfigFlags } from '../config.ts';

/** Placeholder until this command lands. */
export function registerDeviceCommands(
  _program: Command,
  _configFor: (extra?: ConfigFlags) => Config,
): void {}
