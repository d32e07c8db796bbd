using System.Net.Http.Json;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// A real OpenID Connect provider for a test: panva's oidc-provider (installed by test.sh into
/// tests/Fixtures/oidc-provider) run by Node on a loopback port, with one confidential client and
/// a set of users and their groups. Its development pages sign anyone in by name (any password).
/// </summary>
public sealed class OidcTestProvider : IAsyncDisposable
{
    private readonly ChildProcess _node;

    private OidcTestProvider(ChildProcess node, Uri issuer)
    {
        _node = node;
        Issuer = issuer;
    }

    public Uri Issuer { get; }

    /// <summary>The folder with provider.mjs and its node_modules, found from the test assembly upwards (it is run in place, not copied).</summary>
    public static string FixtureDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "Fixtures", "oidc-provider");
                if (File.Exists(Path.Combine(candidate, "provider.mjs")))
                {
                    return Directory.Exists(Path.Combine(candidate, "node_modules", "oidc-provider"))
                        ? candidate
                        : throw new InvalidOperationException($"oidc-provider is not installed in {candidate}; run `npm ci` there (test.sh does)");
                }
            }
            throw new InvalidOperationException("tests/Fixtures/oidc-provider not found above " + AppContext.BaseDirectory);
        }
    }

    public static async Task<OidcTestProvider> StartAsync(ITestOutputHelper? output, string clientId, string clientSecret, IEnumerable<string> redirectUris,
        IReadOnlyDictionary<string, string[]> users)
    {
        var config = System.Text.Json.JsonSerializer.Serialize(new
        {
            clients = new[] { new { client_id = clientId, client_secret = clientSecret, redirect_uris = redirectUris.ToArray() } },
            users,
        });
        var directory = FixtureDirectory;
        var node = ChildProcess.Start("oidc-provider", "node", [Path.Combine(directory, "provider.mjs"), config], output, workingDirectory: directory);
        try
        {
            var line = await node.WaitForLineAsync(@"^issuer (\S+)", Signals.Timeout(60));
            return new OidcTestProvider(node, new Uri(line.Groups[1].Value));
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Replaces the users and their groups, as an admin at the provider would; a user left out no longer exists.</summary>
    public async Task SetUsersAsync(IReadOnlyDictionary<string, string[]> users)
    {
        using var http = new HttpClient { Timeout = Signals.Timeout(30) };
        using var response = await http.PostAsJsonAsync(new Uri(Issuer, "/test/users"), users);
        response.EnsureSuccessStatusCode();
    }

    public ValueTask DisposeAsync() => _node.DisposeAsync();
}
