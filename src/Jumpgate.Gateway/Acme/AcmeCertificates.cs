using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Jumpgate.Core.Api;
using Jumpgate.Core.Security;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// The gateway's certificate when it comes from ACME: what Kestrel's certificate selection hands out
/// (<see cref="Current"/>), the files under <c>acme/</c> it is kept in (mode 0600), and the loop that
/// renews it. A renewal swaps <see cref="Current"/> only once the new chain is in hand, so a failing CA
/// costs nothing while the old certificate lasts; failures are logged and kept for `jumpgate status`.
/// </summary>
internal sealed class AcmeCertificates : IAsyncDisposable
{
    /// <summary>The first wait after a failed renewal, doubled after each further failure up to <see cref="MaxBackoff"/>.</summary>
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMinutes(5);

    /// <summary>At most this between two tries: a CA that is down for a day is still asked four times that day, well inside a 30-day window.</summary>
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(6);

    /// <summary>The longest single wait of the renewal loop (a timer's limit is 49 days).</summary>
    private static readonly TimeSpan MaxSleep = TimeSpan.FromDays(1);

    private readonly AcmeOptions _options;
    private readonly IReadOnlyList<string> _names;
    private readonly IAcmeChallenge _challenge;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private Task? _renewing;
    private volatile X509Certificate2? _current;
    private AcmeRenewalState _state = new(null, null, null, null);

    public AcmeCertificates(AcmeOptions options, string domain, Http01Challenge? http01, IDnsRecords? dns, ILogger logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;
        // DNS-01 can prove the wildcard, so the service subdomains (SERVICE--HOST.DOMAIN) are covered too; HTTP-01 cannot.
        _names = options.Challenge == AcmeChallengeKind.Dns01 ? [domain, "*." + domain] : [domain];
        _challenge = options.Challenge == AcmeChallengeKind.Dns01
            ? new Dns01Challenge(dns ?? throw new ArgumentNullException(nameof(dns)))
            : http01 ?? throw new ArgumentNullException(nameof(http01));
    }

    public string CertificatePath => Path.Combine(_options.StateDirectory, "certificate.pem");

    public string KeyPath => Path.Combine(_options.StateDirectory, "certificate.key");

    public string AccountKeyPath => Path.Combine(_options.StateDirectory, "account.key");

    /// <summary>The certificate (with its chain) to serve now; null only before the first one is obtained.</summary>
    public X509Certificate2? Current => _current;

    /// <summary>What `jumpgate status` shows: the certificate served and how its renewal goes.</summary>
    public CertificateStatus? Describe()
    {
        var current = _current;
        var state = Volatile.Read(ref _state);
        return current is null ? null : new CertificateStatus(_names, new DateTimeOffset(current.NotAfter.ToUniversalTime()), state.NextAttempt, state.LastFailure, state.FailedAt);
    }

    /// <summary>Records how the renewal goes, in memory for --remote and in acme/status.json for `jumpgate status --dir`.</summary>
    private void SetState(AcmeRenewalState state)
    {
        Volatile.Write(ref _state, state);
        if (Describe() is not { } status)
        {
            return;
        }
        try
        {
            AcmeStatusFile.Write(_options, status);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // `status --dir` then shows an older word; the log and `status --remote` have this one.
        }
    }

    /// <summary>The chain Kestrel sends with <see cref="Current"/>: built once per certificate, not once per handshake.</summary>
    public SslStreamCertificateContext? Context { get; private set; }

    /// <summary>
    /// Loads the certificate kept under <c>acme/</c>, or, when there is none (or it no longer matches
    /// the names), obtains one now: a CA that refuses the account fails start-up here, with its reason.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Load() is { } kept && Covers(kept))
        {
            Swap(kept);
        }
        else
        {
            AcmeLog.Obtaining(_logger, string.Join(", ", _names), _options.Directory.ToString());
            Swap(await ObtainAsync(cancellationToken));
        }
        _renewing = RenewLoopAsync(_stop.Token);
    }

    /// <summary>Renews whenever the window opens; after a failure tries again with backoff, serving the old certificate meanwhile.</summary>
    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var current = _current!;
            var next = failures == 0 ? DueAt(current) : _time.GetUtcNow() + Backoff(failures);
            SetState(_state with { NextAttempt = next });
            try
            {
                var wait = next - _time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    // A timer cannot wait the two months a 90-day certificate sleeps; wake daily and look again.
                    await Task.Delay(wait < MaxSleep ? wait : MaxSleep, _time, cancellationToken);
                    if (wait >= MaxSleep)
                    {
                        continue;
                    }
                }
                var renewed = await ObtainAsync(cancellationToken);
                Swap(renewed);
                failures = 0;
                SetState(new AcmeRenewalState(_time.GetUtcNow(), null, null, null));
                AcmeLog.Renewed(_logger, renewed.NotAfter.ToUniversalTime(), Fingerprint.Of(renewed).ToString());
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (IsRenewalFailure(e))
            {
                failures++;
                var retry = _time.GetUtcNow() + Backoff(failures);
                SetState(_state with { LastFailure = e.Message, FailedAt = _time.GetUtcNow(), NextAttempt = retry });
                AcmeLog.RenewalFailed(_logger, e.Message, current.NotAfter.ToUniversalTime(), retry);
            }
        }
    }

    /// <summary>
    /// When the certificate's renewal window opens: <see cref="AcmeOptions.RenewBefore"/> before it ends, or a
    /// third of its life before, for certificates shorter-lived than three windows (so a fresh certificate is never due at once,
    /// which would order one after another against the CA's rate limits).
    /// </summary>
    public DateTimeOffset DueAt(X509Certificate2 certificate)
    {
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        var lifetime = notAfter - notBefore;
        var window = lifetime < 3 * _options.RenewBefore ? lifetime / 3 : _options.RenewBefore;
        return notAfter - window;
    }

    /// <summary>
    /// What a renewal can fail with: the CA's refusal or silence, a CA answer not shaped as the RFC says (a
    /// missing member), files that cannot be written. The loop outlives all of them, so the old certificate keeps serving.
    /// </summary>
    public static bool IsRenewalFailure(Exception e) =>
        e is AcmeException or IOException or UnauthorizedAccessException or CryptographicException or InvalidOperationException
            or System.Text.Json.JsonException or KeyNotFoundException or HttpRequestException or UriFormatException;

    private static TimeSpan Backoff(int failures) =>
        TimeSpan.FromTicks(Math.Min(FirstBackoff.Ticks << Math.Min(failures - 1, 16), MaxBackoff.Ticks));

    private async Task<X509Certificate2> ObtainAsync(CancellationToken cancellationToken)
    {
        using var http = CreateHttpClient();
        using var account = AcmeAccountKey.LoadOrCreate(AccountKeyPath);
        var client = await AcmeClient.ConnectAsync(http, _options.Directory, account, _options.Email, _time, cancellationToken);
        // A fresh key for every certificate: a key that leaked with an old certificate dies with it.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={_names[0]}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in _names)
        {
            names.AddDnsName(name);
        }
        request.CertificateExtensions.Add(names.Build());
        var chain = await client.OrderCertificateAsync(_names, _challenge, request.CreateSigningRequest(), cancellationToken);
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        var certificate = X509Certificate2.CreateFromPem(chain, keyPem);
        Save(chain, keyPem);
        return certificate;
    }

    /// <summary>Writes the key and chain next to the old ones and renames them into place, so a crash leaves one whole pair.</summary>
    private void Save(string chain, string keyPem)
    {
        Directory.CreateDirectory(_options.StateDirectory);
        WritePrivate(KeyPath + ".new", keyPem);
        WritePrivate(CertificatePath + ".new", chain);
        File.Move(KeyPath + ".new", KeyPath, overwrite: true);
        File.Move(CertificatePath + ".new", CertificatePath, overwrite: true);
    }

    private static void WritePrivate(string path, string text)
    {
        File.Delete(path);
        using var writer = new StreamWriter(PrivateFile.CreateNew(path));
        writer.Write(text);
    }

    private X509Certificate2? Load()
    {
        if (!File.Exists(CertificatePath) || !File.Exists(KeyPath))
        {
            return null;
        }
        try
        {
            return X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath);
        }
        catch (CryptographicException e)
        {
            // A pair that no longer loads (hand-edited, or a key from another order) is replaced by a new order.
            AcmeLog.KeptUnusable(_logger, CertificatePath, e.Message);
            return null;
        }
    }

    /// <summary>Whether a kept certificate still names every name this gateway needs and has not ended.</summary>
    private bool Covers(X509Certificate2 certificate)
    {
        if (certificate.NotAfter.ToUniversalTime() <= _time.GetUtcNow().UtcDateTime)
        {
            return false;
        }
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        var names = san?.EnumerateDnsNames().ToHashSet(StringComparer.OrdinalIgnoreCase) ?? [];
        return _names.All(names.Contains);
    }

    private void Swap(X509Certificate2 certificate)
    {
        // The chain's intermediates travel with the leaf: a client that trusts only the root must be sent them.
        var intermediates = new X509Certificate2Collection();
        intermediates.ImportFromPemFile(CertificatePath);
        var others = new X509Certificate2Collection();
        foreach (var item in intermediates)
        {
            if (item.Thumbprint != certificate.Thumbprint)
            {
                others.Add(item);
            }
        }
        Context = SslStreamCertificateContext.Create(certificate, others, offline: true);
        _current = certificate;
    }

    private HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (_options.DirectoryCaFile is { } caFile)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync();
        if (_renewing is not null)
        {
            await _renewing;
        }
    }
}

/// <summary>The renewal's last outcome: when it last succeeded, the last failure (cleared by a success) and when it tries next.</summary>
internal sealed record AcmeRenewalState(DateTimeOffset? RenewedAt, string? LastFailure, DateTimeOffset? FailedAt, DateTimeOffset? NextAttempt);
