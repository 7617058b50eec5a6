#!/usr/bin/perl
# fork, pipe, wait/waitpid, exit statuses, signals between processes, a
# pipe-open of a child, socketpair. Prints only what is the same on every
# correct kernel.
use strict;
use warnings;
use POSIX qw(:sys_wait_h :signal_h);
use Socket;
use IO::Handle;

$| = 1;

# A child writes through a pipe; the parent reads to EOF and reaps it.
pipe(my $r, my $w) or die "pipe: $!";
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    close $r;
    print $w "line $_\n" for 1 .. 3;
    close $w;
    exit 5;
}
close $w;
my @lines = <$r>;
close $r;
waitpid($pid, 0) == $pid or die "waitpid: $!";
print "pipe: ", scalar(@lines), " lines, last '", $lines[-1] =~ s/\n//r, "', child exit ", $? >> 8, "\n";

# Two pipes both ways: the child doubles what it reads.
pipe(my $to_child, my $from_parent) or die;
pipe(my $from_child, my $to_parent) or die;
$pid = fork() // die;
if ($pid == 0) {
    close $from_parent;
    close $from_child;
    $to_parent->autoflush(1);
    while (my $n = <$to_child>) {
        chomp $n;
        print $to_parent $n * 2, "\n";
    }
    exit 0;
}
close $to_child;
close $to_parent;
$from_parent->autoflush(1);
my @doubled;
for my $n (1, 21, 500) {
    print $from_parent "$n\n";
    my $reply = <$from_child>;
    chomp $reply;
    push @doubled, $reply;
}
close $from_parent;
waitpid($pid, 0);
print "two pipes: @doubled, child exit ", $? >> 8, "\n";

# Many children, reaped in any order with wait(); statuses summed.
my %kids;
for my $i (1 .. 5) {
    my $p = fork() // die;
    if ($p == 0) { exit $i * 10 }
    $kids{$p} = $i;
}
my $sum = 0;
while ((my $p = wait()) > 0) {
    die "unknown child $p" unless delete $kids{$p};
    $sum += $? >> 8;
}
print "wait: sum of statuses $sum, left ", scalar(keys %kids), "\n";

# A child killed by a signal; WNOHANG before and after.
$pid = fork() // die;
if ($pid == 0) { sleep 30; exit 0 }
my $early = waitpid($pid, WNOHANG);
kill 'TERM', $pid;
waitpid($pid, 0);
print "signal: early $early, signaled ", (WIFSIGNALED($?) ? 1 : 0), " sig ", WTERMSIG($?), "\n";

# A handler in the child, the parent waits for its answer on a pipe. The
# child keeps USR1 blocked until sigsuspend: Perl runs handlers between its
# ops, so a signal that came just before a plain sleep would wait for the
# sleep to end.
pipe(my $ack_r, my $ack_w) or die;
$pid = fork() // die;
if ($pid == 0) {
    close $ack_r;
    $ack_w->autoflush(1);
    sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1)) or die "sigprocmask: $!";
    local $SIG{USR1} = sub { print $ack_w "got USR1\n"; exit 3 };
    print $ack_w "ready\n";
    sigsuspend(POSIX::SigSet->new()) while 1;
}
close $ack_w;
my $ready = <$ack_r>;
kill 'USR1', $pid;
my $got = <$ack_r>;
waitpid($pid, 0);
chomp($ready, $got);
print "handler: $ready, $got, exit ", $? >> 8, "\n";

# open with "-|": a forked child's stdout; "|-": its stdin.
my $cpid = open(my $kid, "-|") // die "open -|: $!";
if ($cpid == 0) {
    print "from child $_\n" for qw(a b);
    exit 0;
}
my @from = <$kid>;
close $kid;
print "open -|: ", join(",", map { s/\n//r } @from), " status $?\n";
$cpid = open(my $to, "|-") // die "open |-: $!";
if ($cpid == 0) {
    my $count = 0;
    $count++ while <STDIN>;
    exit $count;
}
print $to "x\n" for 1 .. 4;
close $to;
print "open |-: child counted ", $? >> 8, "\n";

# Commands through the shell: backticks, system, a piped open.
my $out = `echo hello | tr a-z A-Z`;
print "backticks: $out";
system("sh", "-c", "exit 4");
print "system: ", $? >> 8, "\n";
open(my $sorted, "-|", "printf 'b\\nc\\na\\n' | sort") or die;
print "piped open: ", join("", <$sorted>) =~ s/\n/ /gr, "\n";
close $sorted;

# socketpair between parent and child.
socketpair(my $s1, my $s2, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
$pid = fork() // die;
if ($pid == 0) {
    close $s1;
    my $msg = <$s2>;
    print $s2 "echo: $msg";
    exit 0;
}
close $s2;
$s1->autoflush(1);
print $s1 "over a socketpair\n";
my $echo = <$s1>;
waitpid($pid, 0);
print "socketpair: $echo";

# A writer to a closed pipe gets SIGPIPE (or EPIPE when it is ignored).
pipe(my $pr, my $pw) or die;
close $pr;
$pid = fork() // die;
if ($pid == 0) { syswrite $pw, "x"; exit 0 }
waitpid($pid, 0);
print "sigpipe: killed by ", WTERMSIG($?), "\n";
{
    local $SIG{PIPE} = 'IGNORE';
    my $n = syswrite $pw, "x";
    print "epipe: ", (defined $n ? "wrote" : ($!{EPIPE} ? "EPIPE" : "other $!")), "\n";
}
close $pw;
print "done\n";
