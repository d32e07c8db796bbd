using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Jumpgate.Gateway.Oidc;

/// <summary>What came of a provider's callback: a user admitted with their sign-in's token, or a refusal in words.</summary>
internal sealed record OidcOutcome(string To, string? User, string? TokenId, int Status, string? Refusal);

/// <summary>
/// The browser's sign-in with the identity provider, on the gateway's own domain: ASP.NET Core's
/// OpenID Connect handler runs the authorization code flow (PKCE, state and nonce in its own
/// protected cookies, the ID token validated against the provider's keys); when it is done the
/// gateway admits the user (<see cref="OidcAccounts"/>) and <see cref="SignInEndpoints"/> signs
/// the browser into Jumpgate's own session. The handler is asked only for these two paths, never
/// through the authentication middleware: a service's subdomain forwards every path, its own
/// <c>/signin-oidc</c> included.
/// </summary>
internal sealed class OidcBrowserSignIn(OidcProvider provider, OidcAccounts accounts, OidcRefresher refresher, GatewayOptions gateway, TimeProvider time, ILogger<OidcBrowserSignIn> logger)
{
    public const string Scheme = "oidc";

    /// <summary>Where the sign-in page's button goes; it sends the browser to the provider.</summary>
    public const string StartPath = "/signin/sso";

    /// <summary>Where the provider sends the browser back (the redirect URI to register with the provider).</summary>
    public const string CallbackPath = "/signin-oidc";

    private const string OutcomeKey = "jumpgate.oidc.outcome";
    private const string ToKey = "jumpgate.to";

    public string DisplayName => provider.Options.DisplayName;

    /// <summary>Registers the provider, the handler and the refresher; reads the client secret now, so a missing one stops the start.</summary>
    public static void Register(IServiceCollection services, OidcOptions options)
    {
        var provider = new OidcProvider(options);
        services.AddSingleton(options);
        services.AddSingleton(provider);
        services.AddSingleton<OidcAccounts>();
        services.AddSingleton<OidcRefresher>();
        services.AddHostedService(s => s.GetRequiredService<OidcRefresher>());
        services.AddSingleton<OidcBrowserSignIn>();
        services.AddSingleton<OidcDeviceSignIn>();
        // A lone scheme would become everyone's default, and the handler's default sign-in scheme is the
        // default: itself, an endless recursion the first time anything authenticates. Jumpgate has its own session.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        services.AddAuthentication().AddOpenIdConnect(Scheme, _ => { });
        // The handler's state, nonce and correlation values live minutes, so their keys need not outlive
        // the process: none is written to disk (a restart fails only the sign-ins under way at that moment).
        services.AddSingleton<IDataProtectionProvider>(new EphemeralDataProtectionProvider());
        services.AddOptions<OpenIdConnectOptions>(Scheme).Configure<OidcBrowserSignIn>((o, flow) => flow.Configure(o));
    }

    /// <summary>
    /// Reads the provider's discovery document once at start, so the log says at once whether
    /// sign-in with it works; an unreachable provider stops nothing (tokens keep working, and the
    /// button says why it fails until the provider answers).
    /// </summary>
    public static async Task AnnounceAsync(IServiceProvider services, ILogger logger, CancellationToken cancellationToken)
    {
        var provider = services.GetRequiredService<OidcProvider>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await provider.Configuration.GetConfigurationAsync(deadline.Token);
            OidcLog.Ready(logger, provider.Options.Issuer, provider.Options.ClientId);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            OidcLog.Unreachable(logger, provider.Options.Issuer, Flatten(e));
        }
    }

    private void Configure(OpenIdConnectOptions o)
    {
        var options = provider.Options;
        o.ClientId = options.ClientId;
        o.ClientSecret = provider.ClientSecret;
        o.ConfigurationManager = provider.Configuration;
        o.Backchannel = provider.Backchannel;
        o.RequireHttpsMetadata = !options.AllowsHttp;
        o.ResponseType = OpenIdConnectResponseType.Code;
        // A GET back to the gateway: no cross-site form post, so no cookie needs SameSite=None to survive it.
        o.ResponseMode = OpenIdConnectResponseMode.Query;
        o.UsePkce = true;
        o.Scope.Clear();
        foreach (var scope in options.Scopes)
        {
            o.Scope.Add(scope);
        }
        o.CallbackPath = CallbackPath;
        o.MapInboundClaims = false;
        o.GetClaimsFromUserInfoEndpoint = true;
        o.ClaimActions.MapJsonKey(options.ClaimUser, options.ClaimUser);
        o.ClaimActions.MapJsonKey(options.ClaimGroups, options.ClaimGroups);
        o.SaveTokens = true;
        o.DisableTelemetry = true;
        o.TokenValidationParameters.ValidAudience = options.ClientId;
        o.TokenValidationParameters.ClockSkew = TimeSpan.FromMinutes(1);
        o.Events = new OpenIdConnectEvents
        {
            OnTicketReceived = TicketReceivedAsync,
            OnRemoteFailure = context => Refuse(context, context.Failure, context.Properties),
            // A failure while the callback is checked (the code's redemption, the ID token): answered here, or the handler throws it.
            OnAuthenticationFailed = context => Refuse(context, context.Exception, context.Properties),
        };
    }

    /// <summary>
    /// Sends the browser to the provider, coming back to <paramref name="to"/> afterwards; or,
    /// when the provider cannot be read now, the words that say so (the page shows them).
    /// </summary>
    public async Task<string?> ChallengeAsync(HttpContext http, string to)
    {
        try
        {
            await provider.Configuration.GetConfigurationAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            var reason = $"the identity provider {provider.Options.Issuer} cannot be reached now ({Flatten(e)}); sign in with a user token, or try again later";
            OidcLog.SignInFailed(logger, reason);
            return reason;
        }
        var properties = new AuthenticationProperties { RedirectUri = "/" };
        properties.Items[ToKey] = to;
        try
        {
            await http.ChallengeAsync(Scheme, properties);
        }
        catch (OpenIdConnectProtocolException e)
        {
            // A provider that takes pushed authorization requests checks the client's secret already here.
            var reason = Describe(e);
            OidcLog.SignInFailed(logger, reason);
            http.Response.Clear();
            return reason;
        }
        return null;
    }

    /// <summary>The provider's callback: the handler checks it, then this admits the user. Null when the path was not the callback.</summary>
    public async Task<OidcOutcome?> CallbackAsync(HttpContext http)
    {
        var handlers = http.RequestServices.GetRequiredService<IAuthenticationHandlerProvider>();
        if (await handlers.GetHandlerAsync(http, Scheme) is not IAuthenticationRequestHandler handler || !await handler.HandleRequestAsync())
        {
            return null;
        }
        return http.Items[OutcomeKey] as OidcOutcome
            ?? new OidcOutcome("", null, null, StatusCodes.Status400BadRequest, "the sign-in with the identity provider did not finish; start again");
    }

    private Task TicketReceivedAsync(TicketReceivedContext context)
    {
        context.HandleResponse();
        var to = context.Properties?.Items.TryGetValue(ToKey, out var value) == true ? value ?? "" : "";
        var (identity, error) = OidcIdentity.From(context.Principal?.Claims ?? [], provider.Options);
        if (identity is null)
        {
            OidcLog.SignInFailed(logger, error!);
            context.HttpContext.Items[OutcomeKey] = new OidcOutcome(to, null, null, StatusCodes.Status403Forbidden, error);
            return Task.CompletedTask;
        }
        var expires = time.GetUtcNow() + gateway.Http.SessionLifetime;
        var (token, refusal) = accounts.Admit(identity, expires, PeerAddress.Of(context.HttpContext), "browser sign-in with the identity provider");
        if (token is null)
        {
            context.HttpContext.Items[OutcomeKey] = new OidcOutcome(to, null, null, StatusCodes.Status403Forbidden, refusal);
            return Task.CompletedTask;
        }
        refresher.Track(token.Id, identity, context.Properties?.GetTokenValue("refresh_token"));
        context.HttpContext.Items[OutcomeKey] = new OidcOutcome(to, identity.User, token.Id, StatusCodes.Status303SeeOther, null);
        return Task.CompletedTask;
    }

    /// <summary>A refused or broken callback (bad state, a forged or expired ID token, the provider's error): the sign-in page says why.</summary>
    private Task Refuse<TOptions>(HandleRequestContext<TOptions> context, Exception? failure, AuthenticationProperties? properties)
        where TOptions : AuthenticationSchemeOptions
    {
        context.HandleResponse();
        var to = properties?.Items.TryGetValue(ToKey, out var value) == true ? value ?? "" : "";
        var reason = Describe(failure);
        OidcLog.SignInFailed(logger, reason);
        context.HttpContext.Items[OutcomeKey] = new OidcOutcome(to, null, null, StatusCodes.Status401Unauthorized, reason);
        return Task.CompletedTask;
    }

    private string Describe(Exception? failure) => failure switch
    {
        OpenIdConnectProtocolInvalidNonceException => "the identity provider's answer does not belong to this sign-in (nonce)",
        OpenIdConnectProtocolException e when e.Message.Contains("invalid_client", StringComparison.Ordinal) => provider.Explain("invalid_client", null),
        Microsoft.IdentityModel.Tokens.SecurityTokenException e => OidcProvider.Describe(e),
        { } e when e.Message.Contains("Correlation failed", StringComparison.Ordinal) => "this sign-in was not started from this browser, or took too long; start again",
        { } e => $"sign-in with the identity provider failed: {Flatten(e)}",
        null => "sign-in with the identity provider failed",
    };

    private static string Flatten(Exception e) => e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message;
}
