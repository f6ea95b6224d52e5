// An HTTPS client for uscope's tls test: GET the path given from a loopback
// server, then print the request header it wrote (as JSON) and the body.
const https = require('https');
const req = https.get({host: '127.0.0.1', port: process.argv[2], path: process.argv[3], rejectUnauthorized: false}, res => {
  let body = '';
  res.on('data', d => body += d);
  res.on('end', () => {
    console.log('request ' + JSON.stringify(req._header));
    console.log('body ' + JSON.stringify(body));
  });
});
req.on('error', e => { console.error(e); process.exit(1); });
