// The ES module entry: the same objects as require('sendmsg').
import sendmsgModule from '../dist/index.js';

export const { createSocket, sendmsg, Socket, backend } = sendmsgModule;
export default sendmsgModule;
