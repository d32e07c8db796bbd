using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// DNS-01 records through RFC 2136 dynamic updates, signed with a TSIG key (RFC 8945, HMAC-SHA256),
/// sent over TCP to the zone's primary: what BIND's <c>nsupdate -y</c> does, for one TXT value at a time.
/// </summary>
internal sealed partial class Rfc2136Records(Rfc2136Options options) : IDnsRecords
{
    private const ushort TypeTxt = 16;
    private const ushort TypeSoa = 6;
    private const ushort TypeTsig = 250;
    private const ushort ClassIn = 1;
    private const ushort ClassNone = 254;
    private const ushort ClassAny = 255;

    /// <summary>Seconds the server lets our clock differ from its own, the value nsupdate sends.</summary>
    private const ushort Fudge = 300;

    /// <summary>The TXT record's TTL: short, since it lives only while the CA looks.</summary>
    private const uint Ttl = 60;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public Task AddTxtAsync(string name, string value, CancellationToken cancellationToken) =>
        UpdateAsync(name, value, ClassIn, Ttl, cancellationToken);

    /// <summary>Deletes exactly this value (class NONE), leaving any other challenge's value in place.</summary>
    public Task RemoveTxtAsync(string name, string value, CancellationToken cancellationToken) =>
        UpdateAsync(name, value, ClassNone, 0, cancellationToken);

    private async Task UpdateAsync(string name, string value, ushort recordClass, uint ttl, CancellationToken cancellationToken)
    {
        if (!name.Equals(options.Zone, StringComparison.OrdinalIgnoreCase) && !name.EndsWith("." + options.Zone, StringComparison.OrdinalIgnoreCase))
        {
            throw new AcmeException($"{name} is not in the zone {options.Zone} that acme.dns.zone names");
        }
        var message = BuildUpdate(name, value, recordClass, ttl, (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1), ReadSecret(options.KeyFile), DateTimeOffset.UtcNow);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        byte[] answer;
        try
        {
            using var tcp = new TcpClient(options.Server.AddressFamily);
            await tcp.ConnectAsync(options.Server, timeout.Token);
            var stream = tcp.GetStream();
            var framed = new byte[message.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
            message.CopyTo(framed, 2);
            await stream.WriteAsync(framed, timeout.Token);
            var length = new byte[2];
            await stream.ReadExactlyAsync(length, timeout.Token);
            answer = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
            await stream.ReadExactlyAsync(answer, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or IOException || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new AcmeException($"the DNS server {options.Server} did not take the update for {name}: {(e is OperationCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : e.Message)}", e);
        }
        // The answer's own TSIG is not checked: a forged "done" would only make the CA's look fail.
        var rcode = answer.Length >= 4 ? answer[3] & 0x0F : -1;
        if (rcode != 0)
        {
            throw new AcmeException($"the DNS server {options.Server} refused the update for {name}: {RcodeName(rcode)}{(rcode is 5 or 9 ? $" (does the zone {options.Zone} allow updates with key {options.KeyName}?)" : "")}");
        }
    }

    /// <summary>An UPDATE message (zone, one record to add or delete) signed with a TSIG record.</summary>
    internal byte[] BuildUpdate(string name, string value, ushort recordClass, uint ttl, ushort id, byte[] secret, DateTimeOffset now)
    {
        var body = new List<byte>();
        WriteUInt16(body, id);
        WriteUInt16(body, 5 << 11); // opcode UPDATE
        WriteUInt16(body, 1); // zone
        WriteUInt16(body, 0); // prerequisites
        WriteUInt16(body, 1); // updates
        WriteUInt16(body, 0); // additional, until the TSIG is appended
        WriteName(body, options.Zone);
        WriteUInt16(body, TypeSoa);
        WriteUInt16(body, ClassIn);
        WriteName(body, name);
        WriteUInt16(body, TypeTxt);
        WriteUInt16(body, recordClass);
        WriteUInt32(body, ttl);
        var text = Encoding.ASCII.GetBytes(value);
        WriteUInt16(body, (ushort)(text.Length + 1));
        body.Add((byte)text.Length);
        body.AddRange(text);

        var signedAt = (ulong)now.ToUnixTimeSeconds();
        // What the MAC covers: the message as it stands, then the TSIG's variables (RFC 8945, 4.3.3).
        var variables = new List<byte>();
        WriteName(variables, options.KeyName.ToLowerInvariant());
        WriteUInt16(variables, ClassAny);
        WriteUInt32(variables, 0);
        WriteName(variables, "hmac-sha256");
        WriteUInt48(variables, signedAt);
        WriteUInt16(variables, Fudge);
        WriteUInt16(variables, 0); // error
        WriteUInt16(variables, 0); // other length
        var mac = HMACSHA256.HashData(secret, body.Concat(variables).ToArray());

        var rdata = new List<byte>();
        WriteName(rdata, "hmac-sha256");
        WriteUInt48(rdata, signedAt);
        WriteUInt16(rdata, Fudge);
        WriteUInt16(rdata, (ushort)mac.Length);
        rdata.AddRange(mac);
        WriteUInt16(rdata, id);
        WriteUInt16(rdata, 0); // error
        WriteUInt16(rdata, 0); // other length

        WriteName(body, options.KeyName.ToLowerInvariant());
        WriteUInt16(body, TypeTsig);
        WriteUInt16(body, ClassAny);
        WriteUInt32(body, 0);
        WriteUInt16(body, (ushort)rdata.Count);
        body.AddRange(rdata);
        var message = body.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(10), 1);
        return message;
    }

    /// <summary>The key's secret from BIND's key file (<c>secret "…";</c>, as tsig-keygen writes it) or from a file holding only the base64.</summary>
    internal static byte[] ReadSecret(string path)
    {
        var text = File.ReadAllText(path);
        var quoted = SecretPattern().Match(text);
        var base64 = quoted.Success ? quoted.Groups[1].Value : text.Trim();
        try
        {
            return Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new AcmeException($"{path} holds no TSIG secret (expected BIND's key file, as tsig-keygen writes it, or the base64 secret alone)");
        }
    }

    [GeneratedRegex("""secret\s+"([^"]+)"\s*;""")]
    private static partial Regex SecretPattern();

    private static string RcodeName(int rcode) => rcode switch
    {
        1 => "FORMERR",
        2 => "SERVFAIL",
        5 => "REFUSED",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        -1 => "a truncated answer",
        _ => $"rcode {rcode}",
    };

    private static void WriteName(List<byte> to, string name)
    {
        foreach (var label in name.TrimEnd('.').Split('.'))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            to.Add((byte)bytes.Length);
            to.AddRange(bytes);
        }
        to.Add(0);
    }

    private static void WriteUInt16(List<byte> to, int value)
    {
        to.Add((byte)(value >> 8));
        to.Add((byte)value);
    }

    private static void WriteUInt32(List<byte> to, uint value)
    {
        WriteUInt16(to, (int)(value >> 16));
        WriteUInt16(to, (int)(value & 0xFFFF));
    }

    private static void WriteUInt48(List<byte> to, ulong value)
    {
        WriteUInt16(to, (int)(value >> 32));
        WriteUInt32(to, (uint)value);
    }
}
