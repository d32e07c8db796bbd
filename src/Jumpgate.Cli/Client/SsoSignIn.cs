using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Cli.Client;

/// <summary>What a sign-in through the identity provider gives the CLI: a short-lived user token and the provider's refresh token.</summary>
internal sealed record SsoGrant(string User, string Token, DateTimeOffset Expires, DateTimeOffset Renews, string? RefreshToken);

/// <summary>
/// `jumpgate login --sso`: the device authorization flow (RFC 8628) through the gateway, which
/// holds the provider's client secret. The person opens the provider's page, confirms the code
/// the CLI shows, and the CLI, polling at the interval the provider set, gets a token that lives
/// <c>oidc.cli_session</c> (an hour by default); before it expires, the next command asks for a new
/// one with the refresh token (<see cref="CurrentAsync"/>).
/// </summary>
internal static class SsoSignIn
{
    /// <summary>How long before its expiry a token is renewed: a command that starts then still finishes with a valid one.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);

    /// <summary>
    /// When a token that expires at <paramref name="expires"/> is renewed: <see cref="RenewBefore"/>
    /// ahead, or halfway through a session shorter than twice that (a gateway's <c>oidc.cli_session</c>
    /// may be minutes), so that a fresh token is never due at once.
    /// </summary>
    public static DateTimeOffset RenewalTime(DateTimeOffset now, DateTimeOffset expires) =>
        expires - TimeSpan.FromTicks(Math.Min(RenewBefore.Ticks, Math.Max(0, (expires - now).Ticks / 2)));

    /// <summary>When the login's token is renewed, or null for a login with a token of its own (not through the identity provider).</summary>
    public static DateTimeOffset? RenewsAt(ClientSettings settings) =>
        settings is { SsoRefreshToken: not null, TokenExpires: { } expires } ? settings.TokenRenews ?? expires - RenewBefore : null;

    private const string DevicePath = "/api/sso/device";
    private const string TokenPath = "/api/sso/token";

    public static async Task<SsoGrant> DeviceAsync(IReadOnlyList<GatewayEndpoint> gateways, TextWriter prompt, CancellationToken cancellationToken)
    {
        // No token yet: these two requests are anonymous, the gateway asks the provider.
        using var api = new GatewayApi(gateways, "none");
        var start = await PostAsync(api, DevicePath, [], cancellationToken);
        var open = start.GetValueOrDefault("verification_uri_complete") is { Length: > 0 } complete ? complete : start["verification_uri"];
        prompt.WriteLine($"to sign in, open {open} and confirm the code {start["user_code"]}");
        var interval = TimeSpan.FromSeconds(int.Parse(start["interval"], System.Globalization.CultureInfo.InvariantCulture));
        using var expiry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        expiry.CancelAfter(TimeSpan.FromSeconds(int.Parse(start["expires_in"], System.Globalization.CultureInfo.InvariantCulture)));
        try
        {
            while (true)
            {
                // RFC 8628 3.5: the client waits the interval between polls, and five seconds more after slow_down.
                await Task.Delay(interval, expiry.Token);
                var answer = await PostAsync(api, TokenPath, [new("device_code", start["device_code"])], expiry.Token);
                switch (answer.GetValueOrDefault("status"))
                {
                    case "ok":
                        return Grant(answer);
                    case "slow_down":
                        interval += TimeSpan.FromSeconds(5);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"the code {start["user_code"]} expired before it was confirmed; run `jumpgate login --sso` again");
        }
    }

    /// <summary>How long a command waits for another one that is renewing the same login (a renewal's request times out after 30 s).</summary>
    private static readonly TimeSpan LockPatience = TimeSpan.FromSeconds(40);

    /// <summary>
    /// The saved login as a command that talks to the gateway should use it: with `login --sso`, a
    /// token that expires within <see cref="RenewBefore"/> is first renewed through the gateway and
    /// saved. Commands that start together (ssh runs one `jumpgate proxy` per connection) renew it
    /// once: the renewal holds a lock on the settings, and one that waited for it reads what the other
    /// saved. Providers that rotate refresh tokens spend the old one on use, so a second renewal with it would fail.
    /// </summary>
    public static async Task<ClientSettings> CurrentAsync(CancellationToken cancellationToken)
    {
        var settings = ClientSettings.Load();
        if (!(RenewsAt(settings) <= DateTimeOffset.UtcNow))
        {
            return settings;
        }
        await using var held = await LockAsync(cancellationToken);
        var now = ClientSettings.Load();
        // Another command renewed it while this one waited for the lock: its token is this one's too.
        return now.Token != settings.Token ? now : await RenewAsync(now, cancellationToken);
    }

    private static async Task<ClientSettings> RenewAsync(ClientSettings settings, CancellationToken cancellationToken)
    {
        using var api = new GatewayApi(settings.Endpoints(), "none");
        SsoGrant grant;
        try
        {
            grant = Grant(await PostAsync(api, TokenPath, [new("refresh_token", settings.SsoRefreshToken!)], cancellationToken));
        }
        catch (CliException e)
        {
            if (settings.TokenExpires > DateTimeOffset.UtcNow)
            {
                // Not expired yet: this command goes on with it, and the next one tries again.
                return settings;
            }
            throw new CliException($"your sign-in through the identity provider could not be renewed ({e.Message}); sign in again: jumpgate login {settings.Gateway} --sso");
        }
        var renewed = settings with { Token = grant.Token, TokenExpires = grant.Expires, TokenRenews = grant.Renews, SsoRefreshToken = grant.RefreshToken ?? settings.SsoRefreshToken };
        renewed.Save();
        return renewed;
    }

    /// <summary>
    /// An exclusive lock on <c>config.json.lock</c> beside the settings. .NET takes an advisory
    /// flock for <see cref="FileShare.None"/> on Linux and fails at once when another process holds
    /// it, so this tries again until <see cref="LockPatience"/> has passed; the kernel releases the
    /// lock when its holder exits, so a killed command never leaves it taken.
    /// </summary>
    private static async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var path = ClientSettings.FilePath + ".lock";
        var deadline = DateTimeOffset.UtcNow + LockPatience;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTimeOffset.UtcNow < deadline)
            {
                // Another command is renewing; it is done within one request to the gateway.
                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            }
            catch (IOException e)
            {
                throw new CliException($"another jumpgate command has held {path} for {LockPatience.TotalSeconds:0} s while renewing your sign-in ({e.Message}); try again");
            }
        }
    }

    private static SsoGrant Grant(Dictionary<string, string> answer)
    {
        var expires = DateTimeOffset.Parse(answer["expires"], System.Globalization.CultureInfo.InvariantCulture);
        return new(answer["user"], answer["token"], expires, RenewalTime(DateTimeOffset.UtcNow, expires),
            answer.GetValueOrDefault("refresh_token") is { Length: > 0 } refresh ? refresh : null);
    }

    private static async Task<Dictionary<string, string>> PostAsync(GatewayApi api, string path, KeyValuePair<string, string>[] fields, CancellationToken cancellationToken) =>
        await api.SendAsync(HttpMethod.Post, path, new FormUrlEncodedContent(fields), ApiJson.Default.DictionaryStringString, cancellationToken)
            ?? throw new CliException($"gateway {api.Gateway} sent an empty answer to {path}");
}
