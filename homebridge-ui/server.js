// The settings page's server, started by the Homebridge UI. @homebridge/plugin-ui-utils is an ES module; the plugin
// is CommonJS, so the UI's classes are loaded here and handed to the plugin's own code (dist/ui/server.js).
'use strict';

(async () => {
  const { HomebridgePluginUiServer, RequestError } = await import('@homebridge/plugin-ui-utils');
  const { startUiServer } = require('../dist/ui/server.js');
  startUiServer(HomebridgePluginUiServer, RequestError);
})().catch((error) => {
  console.error(`Camera Guard settings page could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
