// A real OpenID Connect provider on loopback for the e2e suite's single sign-on tests: node-oidc-provider (an
// OpenID Certified implementation), with its own development login and consent pages standing in for a
// company's. Any login name signs in; its email is <login>@sso.e2e.test (@outside.e2e.test for a login starting with
// "outsider"), verified unless the login starts with "unverified". Signing out here (/session/end) sends the portal a
// back-channel logout (its /api/sso/backchannel-logout, on the redirect URI's origin), with the session's `sid`, which
// its ID tokens carry too. Usage: node e2e/support/oidc-provider.mjs (ATRIUM_E2E_OIDC_PORT, ATRIUM_E2E_OIDC_REDIRECT_URI).
import Provider from "oidc-provider";


// The same client as playwright.config.ts registers with the portal (e2eOidc).
const OIDC_CLIENT = { id: "atrium-e2e", secret: "atrium-e2e-client-secret-0123456789" };
const port = Number(process.env.ATRIUM_E2E_OIDC_PORT ?? 3918);
const redirectUri = process.env.ATRIUM_E2E_OIDC_REDIRECT_URI ?? "http://localhost:3917/api/auth/callback/oidc";
const backchannelLogoutUri = `${new URL(redirectUri).origin}/api/sso/backchannel-logout`;

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: OIDC_CLIENT.id,
      client_secret: OIDC_CLIENT.secret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      // Session required: the ID token and the logout token both carry the provider session's `sid`.
      backchannel_logout_uri: backchannelLogoutUri,
      backchannel_logout_session_required: true,
    },
  ],
  async findAccount(_ctx, login) {
    return {
      accountId: login,
      async claims() {
        const domain = login.startsWith("outsider") ? "outside.e2e.test" : "sso.e2e.test";
        // The subject is the account id: the provider's logout tokens name the account by it.
        return { sub: login, email: `${login}@${domain}`, email_verified: !login.startsWith("unverified"), name: `${login} (SSO)` };
      },
    };
  },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // The claims go into the ID token itself, as many providers do (Atrium reads them there).
  conformIdTokenClaims: false,
  // Signing out at /session/end (RP-initiated logout's page, on by default) notifies the clients back-channel.
  features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true } },
  cookies: { keys: ["atrium-e2e-oidc-cookie-key"] },
});
// The portal's answer to each logout token, for the e2e log.
provider.on("backchannel.success", (_ctx, client, accountId) => console.log(`back-channel logout of ${accountId} sent to ${client.clientId}`));
provider.on("backchannel.error", (_ctx, error, client, accountId) => console.error(`back-channel logout of ${accountId} to ${client.clientId} failed: ${error.message}`));
provider.listen(port, "127.0.0.1", () => console.log(`test OpenID provider at http://127.0.0.1:${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
