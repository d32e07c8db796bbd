using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// Reaches one gateway step by step (name, TCP, TLS and the pinned certificate, the clock), so a
/// failure is told at the step where it happens rather than as one "cannot connect".
/// </summary>
internal static class GatewayProbe
{
    /// <summary>How long each step may take: a gateway on any network a person uses answers well within it.</summary>
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A clock this far off the gateway's makes one-time links and token expiry misleading.</summary>
    public static readonly TimeSpan MaxSkew = TimeSpan.FromSeconds(60);

    /// <summary>Adds a check per step to <paramref name="checks"/> and stops at the first that fails.</summary>
    /// <returns>True when the gateway answered over pinned TLS.</returns>
    public static async Task<bool> RunAsync(GatewayEndpoint gateway, DoctorChecks checks, CancellationToken cancellationToken)
    {
        var host = gateway.Address.IdnHost;
        var port = gateway.Address.Port;
        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                using var timeout = Deadline(cancellationToken);
                addresses = await Dns.GetHostAddressesAsync(host, timeout.Token);
                checks.Add(DoctorCheck.Pass($"{gateway} DNS", $"{host} is {string.Join(", ", addresses.Select(a => a.ToString()))}"));
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                checks.Add(DoctorCheck.Fail($"{gateway} DNS", $"{host} does not resolve ({e.Message})", "check the gateway's name in `jumpgate login` (or agent.yaml) and this machine's DNS (`getent hosts " + host + "`)"));
                return false;
            }
        }

        Socket? socket = null;
        var tried = new List<string>();
        foreach (var address in addresses)
        {
            var candidate = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var timeout = Deadline(cancellationToken);
                await candidate.ConnectAsync(address, port, timeout.Token);
                socket = candidate;
                checks.Add(DoctorCheck.Pass($"{gateway} TCP", $"connected to {Endpoint(address, port)} in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms"));
                break;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                candidate.Dispose();
                tried.Add($"{Endpoint(address, port)}: {(e is SocketException s ? s.Message : $"no answer within {StepTimeout.TotalSeconds:0} s")}");
            }
        }
        if (socket is null)
        {
            checks.Add(DoctorCheck.Fail($"{gateway} TCP", $"cannot connect ({string.Join("; ", tried)})",
                "is the gateway running and listening there (`jumpgate gateway run`, its `listen:`)? a firewall between here and it?"));
            return false;
        }

        string? presented = null;
        await using (var tls = new SslStream(new NetworkStream(socket, ownsSocket: true)))
        {
            try
            {
                using var timeout = Deadline(cancellationToken);
                await tls.AuthenticateAsClientAsync(TlsDefaults.ClientOptions(host, gateway.Pinned, actual => presented = actual), timeout.Token);
                var fingerprint = Fingerprint.Of(tls.RemoteCertificate!);
                checks.Add(DoctorCheck.Pass($"{gateway} TLS", gateway.Pinned is null
                    ? $"{tls.SslProtocol}, a certificate trusted by this machine ({fingerprint})"
                    : $"{tls.SslProtocol}, the pinned certificate {gateway.Pinned}"));
            }
            catch (AuthenticationException) when (presented is not null)
            {
                checks.Add(DoctorCheck.Fail($"{gateway} TLS", $"the gateway presented certificate {presented}, not the pinned {gateway.Pinned}",
                    "if the gateway's certificate was replaced, ask its admin for `jumpgate gateway fingerprint` and log in again with that --fingerprint; otherwise something between here and the gateway is intercepting the connection"));
                return false;
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                checks.Add(DoctorCheck.Fail($"{gateway} TLS", $"no TLS handshake ({e.Message})",
                    gateway.Pinned is null ? "give the gateway's --fingerprint to `jumpgate login` if it has a self-signed certificate" : "is this address a Jumpgate gateway? (another service may listen on the port)"));
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Asks the API who this token is and checks the gateway's clock (its Date header) against this machine's.
    /// Returns the answer, or null when the token was refused (a check says so).
    /// </summary>
    public static async Task<WhoAmI?> WhoAmIAsync(GatewayEndpoint gateway, string token, DoctorChecks checks, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { SslOptions = TlsDefaults.ClientOptions(gateway.Address.IdnHost, gateway.Pinned), ConnectTimeout = StepTimeout })
        {
            BaseAddress = gateway.Address,
            Timeout = StepTimeout * 2,
            DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
        };
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync(ApiPaths.WhoAmI, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            checks.Add(DoctorCheck.Fail($"{gateway} API", $"no answer to {ApiPaths.WhoAmI} ({e.Message})", "look at the gateway's log; is a proxy in front of it that does not pass /api/?"));
            return null;
        }
        using (response)
        {
            ClockCheck(gateway, response.Headers.Date, checks);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                checks.Add(DoctorCheck.Fail("token", $"gateway {gateway} refused the saved token (invalid, revoked, expired, or its user disabled)",
                    "ask the gateway's admin for a new token (`jumpgate gateway token-add user YOU`), then `jumpgate login` again"));
                return null;
            }
            if (!response.IsSuccessStatusCode)
            {
                checks.Add(DoctorCheck.Fail($"{gateway} API", $"{ApiPaths.WhoAmI} answered {(int)response.StatusCode} {response.ReasonPhrase}", "look at the gateway's log"));
                return null;
            }
            return await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync(response.Content, ApiJson.Default.WhoAmI, cancellationToken);
        }
    }

    /// <summary>The clock check alone, from the Date of an unauthenticated request (its 401 has one too): no token is sent.</summary>
    public static async Task ClockAsync(GatewayEndpoint gateway, DoctorChecks checks, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { SslOptions = TlsDefaults.ClientOptions(gateway.Address.IdnHost, gateway.Pinned), ConnectTimeout = StepTimeout })
        {
            BaseAddress = gateway.Address,
            Timeout = StepTimeout * 2,
        };
        try
        {
            using var response = await http.GetAsync(ApiPaths.WhoAmI, cancellationToken);
            ClockCheck(gateway, response.Headers.Date, checks);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            checks.Add(DoctorCheck.Fail($"{gateway} clock", $"no HTTP answer to read the gateway's time from ({e.Message})", "look at the gateway's log"));
        }
    }

    private static void ClockCheck(GatewayEndpoint gateway, DateTimeOffset? date, DoctorChecks checks)
    {
        if (date is not { } theirs)
        {
            checks.Add(DoctorCheck.Fail($"{gateway} clock", "the gateway's answer has no Date header", "is a proxy in front of the gateway removing it?"));
            return;
        }
        // The Date header has whole seconds; a second either way is its rounding.
        var skew = DateTimeOffset.UtcNow - theirs;
        var size = skew.Duration();
        checks.Add(size <= MaxSkew
            ? DoctorCheck.Pass($"{gateway} clock", $"within {Math.Max(1, Math.Ceiling(size.TotalSeconds)):0} s of the gateway's")
            : DoctorCheck.Fail($"{gateway} clock", $"this machine's clock is {size.TotalSeconds:0} s {(skew > TimeSpan.Zero ? "ahead of" : "behind")} the gateway's",
                "synchronise the clocks (`timedatectl set-ntp true` here, or on the gateway)"));
    }

    private static string Endpoint(IPAddress address, int port) => address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";

    private static CancellationTokenSource Deadline(CancellationToken cancellationToken)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StepTimeout);
        return timeout;
    }
}
