/** Every command's register function; each lives in its own module. */
import type { Command } from 'commander';
import { registerDelta } from './delta';
import { registerEval } from './eval';
import { registerFinetune } from './finetune';
import { registerGrad } from './grad';
import { registerLocate } from './locate';
import { registerMask } from './mask';
import { registerReport } from './report';
import { registerStitch } from './stitch';
import { registerSweep } from './sweep';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [registerDelta, registerEval, registerFinetune, registerGrad, registerLocate, registerMask, registerReport, registerStitch, registerSweep];
