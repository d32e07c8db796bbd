using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Metrics;

/// <summary>
/// The token a scraper sends for <c>/metrics</c> on the main port (<c>metrics: token_file:</c>).
/// Compared by hash in constant time, so neither its length nor its bytes leak through timing;
/// a wrong or missing one gets a bare 401, the same for both.
/// </summary>
internal sealed class ScrapeToken
{
    private readonly byte[] _hash;

    private ScrapeToken(byte[] hash) => _hash = hash;

    public static ScrapeToken Load(string path)
    {
        var token = File.ReadAllText(path).Trim();
        if (token.Length < 16)
        {
            throw new InvalidOperationException($"{path} holds no scrape token of at least 16 characters; write one with `openssl rand -hex 32 > {path}` (mode 600)");
        }
        return new ScrapeToken(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }

    public bool Allows(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return false;
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, _hash);
    }
}
