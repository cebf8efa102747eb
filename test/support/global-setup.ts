/** Nothing to start globally: each suite starts what it needs (moto_server, a fresh database). */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
