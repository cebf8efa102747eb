/** `npm start`: the local mode, dev defaults (DEV_ALLOW_EPHEMERAL=true is set by the npm script). */
import { runServe } from './serve.js';

await runServe(process.env);
