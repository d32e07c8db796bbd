using Npgsql;

namespace Jumpgate.Gateway.Store.Postgres;

/// <summary>
/// A <c>postgres://user:password@host:port/database</c> URL (the form libpq and most hosted
/// PostgreSQL services hand out), turned into Npgsql's connection string. The password may be left
/// out and given through PGPASSWORD or ~/.pgpass, which Npgsql reads, so that it is on no command line.
/// <see cref="ToString"/> masks the password: it is what errors and logs show.
/// </summary>
internal sealed class PostgresUrl
{
    private PostgresUrl(NpgsqlConnectionStringBuilder builder, string masked)
    {
        ConnectionString = builder.ConnectionString;
        HasPassword = builder.Password is not null;
        _masked = masked;
    }

    /// <summary>Whether the URL itself holds the password, which makes the file it came from a secret.</summary>
    public bool HasPassword { get; }

    private readonly string _masked;

    /// <summary>Npgsql's connection string; it holds the password, so it is never shown.</summary>
    public string ConnectionString { get; }

    public static bool HasScheme(string text) =>
        text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <paramref name="text"/>; <paramref name="error"/> says what is wrong without quoting the password.</summary>
    public static bool TryParse(string text, out PostgresUrl url, out string error)
    {
        url = null!;
        if (!HasScheme(text) || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            error = "expected postgres://user:password@host:port/database";
            return false;
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
        var user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
        var password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal) || user.Length == 0)
        {
            error = "expected postgres://user:password@host:port/database (a user and a database are required)";
            return false;
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.DnsSafeHost,
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = database,
            Username = user,
            ApplicationName = "jumpgate",
        };
        if (password is not null)
        {
            builder.Password = password;
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            try
            {
                // Npgsql's own keywords (sslmode, timeout, ...), so that what an admin knows from libpq mostly works.
                builder[key] = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            }
            catch (ArgumentException)
            {
                error = $"unknown connection option '{key}'";
                return false;
            }
        }
        var port = uri.IsDefaultPort || uri.Port < 0 ? "" : ":" + uri.Port;
        var masked = $"{uri.Scheme}://{Uri.EscapeDataString(user)}{(password is null ? "" : ":***")}@{uri.Host}{port}/{Uri.EscapeDataString(database)}";
        url = new PostgresUrl(builder, masked);
        error = "";
        return true;
    }

    /// <summary><paramref name="text"/> (a URL without a password) with <paramref name="password"/> put in its user part.</summary>
    public static string WithPassword(string text, string password)
    {
        var start = text.IndexOf("://", StringComparison.Ordinal) + 3;
        var at = text.IndexOf('@', start);
        return at < 0 ? text : text[..at] + ":" + Uri.EscapeDataString(password) + text[at..];
    }

    public override string ToString() => _masked;
}
