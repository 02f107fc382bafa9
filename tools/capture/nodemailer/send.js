// Send one or more messages with nodemailer's built-in logger and debug output on.
// Usage: node send.js '<json options>'
// The JSON holds "transport" (createTransport options), "messages" (how many to
// send, one after another), "from", "to" and optionally "caFile" (PEM file to trust).
'use strict';

const fs = require('fs');
const nodemailer = require('nodemailer');

const options = JSON.parse(process.argv[2]);
const transport = Object.assign({ logger: true, debug: true }, options.transport);
if (options.caFile) {
    transport.tls = Object.assign({}, transport.tls, { ca: fs.readFileSync(options.caFile) });
}

const transporter = nodemailer.createTransport(transport);

async function main() {
    for (let i = 0; i < (options.messages || 1); i++) {
        try {
            const info = await transporter.sendMail({
                from: options.from,
                to: options.to,
                subject: `capture ${i + 1}`,
                text: 'Captured by smtplogkit tools/capture/nodemailer.'
            });
            console.log('Message sent: %s', info.messageId);
        } catch (err) {
            // Stack frames name this folder; a fixed one keeps the captured logs the same on every machine.
            err.stack = String(err.stack).split(__dirname).join('/srv/app');
            // Printed the way most applications print a failed send.
            console.error(err);
        }
    }
    transporter.close();
}

main();
