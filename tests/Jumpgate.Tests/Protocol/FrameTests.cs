using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Serialization.Metadata;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Protocol;

public sealed class FrameTests
{
    private static readonly TimeSpan Timeout = Signals.Timeout(10);

    internal static Hello AgentHello() => new()
    {
        Type = HelloType.Agent,
        Token = TokenSecret.Create(PrincipalKind.Agent).ToString(),
        Version = "0.1.0",
        Hosts =
        [
            new HostAnnouncement
            {
                Name = "node1",
                Services = [new ServiceAnnouncement { Name = "ssh", Port = 22 }, new ServiceAnnouncement { Name = "jupyter", Port = 8888, Http = true }],
            },
            new HostAnnouncement { Name = "lab-pc", Services = [new ServiceAnnouncement { Name = "ssh", Port = 2222 }] },
        ],
    };

    internal static Hello ConnectHello() => new()
    {
        Type = HelloType.Connect,
        Token = TokenSecret.Create(PrincipalKind.User).ToString(),
        Host = "node1",
        Service = "ssh",
    };

    internal static Hello TrunkHello() => new()
    {
        Type = HelloType.AgentTrunk,
        Token = TokenSecret.Create(PrincipalKind.Agent).ToString(),
        Session = "0123456789abcdef0123456789abcdef",
    };

    private static Reply AgentReply() => new()
    {
        Ok = true,
        Agent = "lab-a",
        Session = "0123456789abcdef",
        HeartbeatMs = 2000,
        PoolSize = 4,
        Refused = ["agent lab-a is not allowed to serve host node9 (allowed: node*, lab-pc)"],
    };

    [Fact]
    public async Task HelloSurvivesARoundTripThroughAStream()
    {
        foreach (var hello in new[] { AgentHello(), ConnectHello(), TrunkHello() })
        {
            var read = await RoundTripThroughStreamAsync(hello, ProtocolJson.Default.Hello);
            AssertSameHello(hello, read);
        }
    }

    [Fact]
    public async Task HelloSurvivesARoundTripThroughAPipe()
    {
        foreach (var hello in new[] { AgentHello(), ConnectHello(), TrunkHello() })
        {
            var read = await RoundTripThroughPipeAsync(hello, ProtocolJson.Default.Hello);
            AssertSameHello(hello, read);
        }
    }

    [Fact]
    public async Task ReplySurvivesARoundTripThroughBothApis()
    {
        foreach (var reply in new[] { AgentReply(), Reply.Success, Reply.Failure("invalid or revoked token") })
        {
            foreach (var read in new[] { await RoundTripThroughStreamAsync(reply, ProtocolJson.Default.Reply), await RoundTripThroughPipeAsync(reply, ProtocolJson.Default.Reply) })
            {
                Assert.Equal(reply.Ok, read.Ok);
                Assert.Equal(reply.Error, read.Error);
                Assert.Equal(reply.Agent, read.Agent);
                Assert.Equal(reply.Session, read.Session);
                Assert.Equal(reply.HeartbeatMs, read.HeartbeatMs);
                Assert.Equal(reply.PoolSize, read.PoolSize);
                Assert.Equal(reply.Refused, read.Refused);
            }
        }
    }

    [Fact]
    public async Task ControlMessageSurvivesARoundTripThroughBothApis()
    {
        var messages = new[]
        {
            new ControlMessage { Type = ControlMessage.Ping },
            new ControlMessage { Type = ControlMessage.Pong },
        };
        foreach (var message in messages)
        {
            Assert.Equal(message, await RoundTripThroughStreamAsync(message, ProtocolJson.Default.ControlMessage));
            Assert.Equal(message, await RoundTripThroughPipeAsync(message, ProtocolJson.Default.ControlMessage));
        }
    }

    [Fact]
    public async Task OpenRequestSurvivesARoundTripThroughBothApis()
    {
        var request = new OpenRequest { Host = "gpu-node-1", Service = "jupyter" };
        Assert.Equal(request, await RoundTripThroughStreamAsync(request, ProtocolJson.Default.OpenRequest));
        Assert.Equal(request, await RoundTripThroughPipeAsync(request, ProtocolJson.Default.OpenRequest));
    }

    [Fact]
    public void WritesALengthPrefixAndSnakeCaseJson()
    {
        var frame = Frame.Encode(new OpenRequest { Host = "node1", Service = "ssh" }, ProtocolJson.Default.OpenRequest);

        Assert.Equal(frame.Length - 2, BinaryPrimitives.ReadUInt16BigEndian(frame));
        Assert.Equal("""{"host":"node1","service":"ssh"}""", Encoding.UTF8.GetString(frame, 2, frame.Length - 2));
    }

    [Fact]
    public async Task AFrameArrivingOneByteAtATimeStillParsesFromAPipe()
    {
        var hello = AgentHello();
        var frame = Frame.Encode(hello, ProtocolJson.Default.Hello);
        var pipe = new Pipe();

        var reading = Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.Hello, CancellationToken.None).AsTask();
        for (var i = 0; i < frame.Length; i++)
        {
            Assert.False(reading.IsCompleted, $"the reader finished after only {i} of {frame.Length} bytes");
            await pipe.Writer.WriteAsync(frame.AsMemory(i, 1));
        }

        AssertSameHello(hello, await reading.WaitAsync(Timeout));
    }

    [Fact]
    public async Task AFrameArrivingOneByteAtATimeStillParsesFromAStream()
    {
        var hello = AgentHello();
        var frame = Frame.Encode(hello, ProtocolJson.Default.Hello);
        var pipe = new Pipe();
        await using var stream = pipe.Reader.AsStream();

        var reading = Frame.ReadAsync(stream, ProtocolJson.Default.Hello, CancellationToken.None).AsTask();
        for (var i = 0; i < frame.Length; i++)
        {
            Assert.False(reading.IsCompleted, $"the reader finished after only {i} of {frame.Length} bytes");
            await pipe.Writer.WriteAsync(frame.AsMemory(i, 1));
        }

        AssertSameHello(hello, await reading.WaitAsync(Timeout));
    }

    [Fact]
    public async Task FramesSplitAtRandomPlacesStillParse()
    {
        var random = new Random(7);
        for (var round = 0; round < 50; round++)
        {
            var hello = round % 2 == 0 ? AgentHello() : ConnectHello();
            var frame = Frame.Encode(hello, ProtocolJson.Default.Hello);
            var pipe = new Pipe();
            var reading = Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.Hello, CancellationToken.None).AsTask();
            for (var at = 0; at < frame.Length;)
            {
                var length = Math.Min(frame.Length - at, random.Next(1, 40));
                await pipe.Writer.WriteAsync(frame.AsMemory(at, length));
                at += length;
            }
            AssertSameHello(hello, await reading.WaitAsync(Timeout));

            // The synchronous parser sees the same bytes as a chain of small segments.
            var sequence = Segments.Split(frame, random, maxPiece: 5);
            Assert.True(Frame.TryRead(ref sequence, out var payload));
            AssertSameHello(hello, Frame.Decode(payload, ProtocolJson.Default.Hello));
            Assert.Equal(0, sequence.Length);
        }
    }

    [Fact]
    public void TryReadWaitsForTheWholeFrame()
    {
        var frame = Frame.Encode(ConnectHello(), ProtocolJson.Default.Hello);
        for (var length = 0; length < frame.Length; length++)
        {
            var partial = new ReadOnlySequence<byte>(frame, 0, length);
            Assert.False(Frame.TryRead(ref partial, out _));
            Assert.Equal(length, partial.Length);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Frame.MaxPayload + 1)]
    [InlineData(ushort.MaxValue)]
    public async Task RefusesALengthOutsideTheLimitInEveryReader(int length)
    {
        var header = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)length);

        // The header alone is enough to refuse: no reader waits for a payload it would never accept.
        var sequence = new ReadOnlySequence<byte>(header);
        Assert.Throws<ProtocolException>(() => Frame.TryRead(ref sequence, out _));

        using var stream = new MemoryStream(header);
        await Assert.ThrowsAsync<ProtocolException>(async () => await Frame.ReadAsync(stream, ProtocolJson.Default.Hello, CancellationToken.None));

        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(header);
        var read = Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.Hello, CancellationToken.None).AsTask();
        await Assert.ThrowsAsync<ProtocolException>(() => read.WaitAsync(Timeout));
    }

    [Fact]
    public void AcceptsAPayloadOfExactlyTheLimit()
    {
        var payload = new byte[Frame.MaxPayload];
        payload.AsSpan().Fill((byte)' ');
        "{\"type\":\"ping\"}"u8.CopyTo(payload);
        var frame = new byte[2 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)payload.Length);
        payload.CopyTo(frame, 2);

        var sequence = new ReadOnlySequence<byte>(frame);
        Assert.True(Frame.TryRead(ref sequence, out var read));
        Assert.Equal(ControlMessage.Ping, Frame.Decode(read, ProtocolJson.Default.ControlMessage).Type);
    }

    [Fact]
    public void RefusesToEncodeAMessageLongerThanTheLimit()
    {
        var hello = ConnectHello() with { Host = new string('a', Frame.MaxPayload) };

        var error = Assert.Throws<ProtocolException>(() => Frame.Encode(hello, ProtocolJson.Default.Hello));
        Assert.Contains(Frame.MaxPayload.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedJsonIsRefusedWithoutQuotingTheToken()
    {
        var token = TokenSecret.Create(PrincipalKind.Agent);
        var text = token.ToString();
        var payloads = new[]
        {
            $$"""{"type":"agent","token":"{{text}}" """,
            $$"""{"type":"agent","token":"{{text}}",}""",
            $$"""{"type":"agent","token":{{text}}}""",
            $$"""{"type":"agent","token":"{{text}}","hosts":"{{text}}"}""",
            $$"""{"type":"agent","version":"{{text}}"}""",
            $$"""{"type":"agent","token":"{{text}}","hosts":[{"name":"{{text}}","services":[{"name":"ssh","port":"{{text}}"}]}]}""",
            $$"""["{{text}}"]""",
            $$"""  "{{text}}"  """,
            $$"""{{text}}""",
            $$"""{"type":"agent","token":"{{text}}"}{{text}}""",
            "null",
        };
        foreach (var payload in payloads)
        {
            var error = Assert.Throws<ProtocolException>(() => Frame.Decode(Encoding.UTF8.GetBytes(payload), ProtocolJson.Default.Hello));
            Assert.DoesNotContain(token.Secret, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(token.Id, error.ToString(), StringComparison.Ordinal);
            // A logger prints inner exceptions too, and the JSON parser's messages quote the input.
            Assert.Null(error.InnerException);
        }
    }

    [Fact]
    public void RefusesAHelloWithoutItsRequiredFields()
    {
        Assert.Throws<ProtocolException>(() => Frame.Decode("""{"type":"connect"}"""u8, ProtocolJson.Default.Hello));
        Assert.Throws<ProtocolException>(() => Frame.Decode("""{"token":"jgu_x"}"""u8, ProtocolJson.Default.Hello));
        Assert.Throws<ProtocolException>(() => Frame.Decode("""{"host":"node1"}"""u8, ProtocolJson.Default.OpenRequest));
    }

    [Fact]
    public async Task ThePipeReaderConsumesExactlyOneFrameAndLeavesTheRest()
    {
        var hello = ConnectHello();
        var ping = new ControlMessage { Type = ControlMessage.Ping };
        var tail = "SSH-2.0-OpenSSH_9.6\r\n"u8.ToArray();
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Frame.Encode(hello, ProtocolJson.Default.Hello).Concat(Frame.Encode(ping, ProtocolJson.Default.ControlMessage)).Concat(tail).ToArray());
        await pipe.Writer.CompleteAsync();

        AssertSameHello(hello, await Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.Hello, CancellationToken.None));
        Assert.Equal(ping, await Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.ControlMessage, CancellationToken.None));

        var rest = new List<byte>();
        for (var reads = 0; reads < 100; reads++)
        {
            var result = await pipe.Reader.ReadAsync();
            rest.AddRange(result.Buffer.ToArray());
            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        Assert.Equal(tail, rest);
    }

    [Fact]
    public async Task TheStreamReaderConsumesExactlyOneFrameAndLeavesTheRest()
    {
        var frame = Frame.Encode(TrunkHello(), ProtocolJson.Default.Hello);
        var tail = "raw bytes after the handshake"u8.ToArray();
        using var stream = new MemoryStream([.. frame, .. tail]);

        await Frame.ReadAsync(stream, ProtocolJson.Default.Hello, CancellationToken.None);

        Assert.Equal(frame.Length, stream.Position);
        Assert.Equal(tail, stream.ToArray()[frame.Length..]);
    }

    [Fact]
    public async Task TheStreamReaderDoesNotReadPastTheFrame()
    {
        // A socket read could hand over the bytes that follow the frame; the reader must not take them.
        var frame = Frame.Encode(new ControlMessage { Type = ControlMessage.Pong }, ProtocolJson.Default.ControlMessage);
        var pipe = new Pipe();
        await using var stream = pipe.Reader.AsStream();
        await pipe.Writer.WriteAsync(frame.Concat("tail"u8.ToArray()).ToArray());

        await Frame.ReadAsync(stream, ProtocolJson.Default.ControlMessage, CancellationToken.None);
        await pipe.Writer.CompleteAsync();

        var rest = new byte[16];
        var read = await stream.ReadAtLeastAsync(rest, 4, throwOnEndOfStream: false);
        Assert.Equal("tail", Encoding.ASCII.GetString(rest, 0, read));
    }

    [Fact]
    public async Task ReportsEndOfStreamWhenThePeerClosesMidFrame()
    {
        var frame = Frame.Encode(ConnectHello(), ProtocolJson.Default.Hello);
        foreach (var length in new[] { 0, 1, 2, frame.Length - 1 })
        {
            using var stream = new MemoryStream(frame[..length]);
            await Assert.ThrowsAsync<EndOfStreamException>(async () => await Frame.ReadAsync(stream, ProtocolJson.Default.Hello, CancellationToken.None));

            var pipe = new Pipe();
            await pipe.Writer.WriteAsync(frame.AsMemory(0, length));
            await pipe.Writer.CompleteAsync();
            var read = Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.Hello, CancellationToken.None).AsTask();
            await Assert.ThrowsAsync<EndOfStreamException>(() => read.WaitAsync(Timeout));
        }
    }

    [Fact]
    public async Task AWaitingReaderStopsWhenCancelled()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0, 10, (byte)'{' });
        using var cancel = new CancellationTokenSource();

        var read = Frame.ReadAsync(pipe.Reader, ProtocolJson.Default.Hello, cancel.Token).AsTask();
        Assert.False(read.IsCompleted);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(Timeout));
    }

    private static async Task<T> RoundTripThroughStreamAsync<T>(T message, JsonTypeInfo<T> type)
    {
        using var stream = new MemoryStream();
        await Frame.WriteAsync(stream, message, type, CancellationToken.None);
        stream.Position = 0;
        var read = await Frame.ReadAsync(stream, type, CancellationToken.None);
        Assert.Equal(stream.Length, stream.Position);
        return read;
    }

    private static async Task<T> RoundTripThroughPipeAsync<T>(T message, JsonTypeInfo<T> type)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Frame.Encode(message, type));
        return await Frame.ReadAsync(pipe.Reader, type, CancellationToken.None).AsTask().WaitAsync(Timeout);
    }

    internal static void AssertSameHello(Hello expected, Hello actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Token, actual.Token);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.Session, actual.Session);
        Assert.Equal(expected.Host, actual.Host);
        Assert.Equal(expected.Service, actual.Service);
        Assert.Equal(expected.Hosts is null, actual.Hosts is null);
        if (expected.Hosts is not null && actual.Hosts is not null)
        {
            Assert.Equal(expected.Hosts.Count, actual.Hosts.Count);
            foreach (var (want, got) in expected.Hosts.Zip(actual.Hosts))
            {
                Assert.Equal(want.Name, got.Name);
                Assert.Equal(want.Services, got.Services);
            }
        }
    }

    [Theory]
    [InlineData("""{"type":null,"token":"t"}""")]
    [InlineData("""{"type":"agent","token":null}""")]
    [InlineData("""{"type":"agent","token":"t","hosts":[{"name":"n","services":null}]}""")]
    public void RefusesNullsWhereTheProtocolHasNone(string json)
    {
        Assert.Throws<ProtocolException>(() => Frame.Decode(System.Text.Encoding.UTF8.GetBytes(json), ProtocolJson.Default.Hello));
    }
}
