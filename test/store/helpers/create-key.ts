// A child process that creates one key in a local store and prints whether it won.
import { LocalObjectStore } from "../../../src/store/index.js";

const [root, key] = process.argv.slice(2) as [string, string];
const won = await new LocalObjectStore(root).create(key, Buffer.from(String(process.pid)));
process.stdout.write(won ? "won" : "lost");
