// UscopeProbes: the JVM workload of uscope's USDT tests (hotspot provider,
// run with -XX:+ExtendedDTraceProbes). It starts a named thread, calls
// work() from it and from main, loads a nested class, and asks for a full
// garbage collection.
public class UscopeProbes {
    static class Inner {
        int value() {
            return 7;
        }
    }

    static int work(int n) {
        return n * 2 + 1;
    }

    public static void main(String[] args) throws Exception {
        Thread t = new Thread(() -> work(100), "uscope-worker");
        t.start();
        t.join();
        int sum = 0;
        for (int i = 0; i < 3; i++) {
            sum += work(i);
        }
        sum += new Inner().value();
        System.gc();
        System.err.println("sum " + sum);
    }
}
