// Writes one large object to a local store, slowly enough to be killed halfway (a map task dying).
import { LocalObjectStore } from "../../../src/store/index.js";

const [root, key, megabytes] = process.argv.slice(2);
const data = Buffer.alloc(Number(megabytes) << 20, 7);
process.stdout.write("writing\n");
await new LocalObjectStore(root!).put(key!, data);
process.stdout.write("written\n");
