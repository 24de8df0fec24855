package org.nfnet.converters.pickle;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/** Pickle opcode bytes (protocols 0-5) and their names, for dispatch and for error messages. */
final class Opcodes {
  static final int MARK = '(';
  static final int STOP = '.';
  static final int POP = '0';
  static final int POP_MARK = '1';
  static final int DUP = '2';
  static final int BINFLOAT = 'G';
  static final int BININT = 'J';
  static final int BININT1 = 'K';
  static final int BININT2 = 'M';
  static final int NONE = 'N';
  static final int REDUCE = 'R';
  static final int BINUNICODE = 'X';
  static final int APPEND = 'a';
  static final int BUILD = 'b';
  static final int GLOBAL = 'c';
  static final int DICT = 'd';
  static final int EMPTY_DICT = '}';
  static final int APPENDS = 'e';
  static final int BINGET = 'h';
  static final int LONG_BINGET = 'j';
  static final int LIST = 'l';
  static final int EMPTY_LIST = ']';
  static final int BINPUT = 'q';
  static final int LONG_BINPUT = 'r';
  static final int SETITEM = 's';
  static final int TUPLE = 't';
  static final int EMPTY_TUPLE = ')';
  static final int SETITEMS = 'u';
  static final int PROTO = 0x80;
  static final int NEWOBJ = 0x81;
  static final int TUPLE1 = 0x85;
  static final int TUPLE2 = 0x86;
  static final int TUPLE3 = 0x87;
  static final int NEWTRUE = 0x88;
  static final int NEWFALSE = 0x89;
  static final int LONG1 = 0x8a;
  static final int LONG4 = 0x8b;
  static final int BINBYTES = 'B';
  static final int SHORT_BINBYTES = 'C';
  static final int SHORT_BINUNICODE = 0x8c;
  static final int BINUNICODE8 = 0x8d;
  static final int BINBYTES8 = 0x8e;
  static final int EMPTY_SET = 0x8f;
  static final int ADDITEMS = 0x90;
  static final int FROZENSET = 0x91;
  static final int NEWOBJ_EX = 0x92;
  static final int STACK_GLOBAL = 0x93;
  static final int MEMOIZE = 0x94;
  static final int FRAME = 0x95;
  static final int BYTEARRAY8 = 0x96;
  static final int NEXT_BUFFER = 0x97;
  static final int READONLY_BUFFER = 0x98;

  private static final Map<Integer, String> NAMES = new HashMap<>();

  static {
    Object[] table = {
      MARK, "MARK", STOP, "STOP", POP, "POP", POP_MARK, "POP_MARK", DUP, "DUP", BINFLOAT, "BINFLOAT",
      BININT, "BININT", BININT1, "BININT1", BININT2, "BININT2", NONE, "NONE", REDUCE, "REDUCE",
      BINUNICODE, "BINUNICODE", APPEND, "APPEND", BUILD, "BUILD", GLOBAL, "GLOBAL", DICT, "DICT",
      EMPTY_DICT, "EMPTY_DICT", APPENDS, "APPENDS", BINGET, "BINGET", LONG_BINGET, "LONG_BINGET",
      LIST, "LIST", EMPTY_LIST, "EMPTY_LIST", BINPUT, "BINPUT", LONG_BINPUT, "LONG_BINPUT",
      SETITEM, "SETITEM", TUPLE, "TUPLE", EMPTY_TUPLE, "EMPTY_TUPLE", SETITEMS, "SETITEMS",
      PROTO, "PROTO", NEWOBJ, "NEWOBJ", TUPLE1, "TUPLE1", TUPLE2, "TUPLE2", TUPLE3, "TUPLE3",
      NEWTRUE, "NEWTRUE", NEWFALSE, "NEWFALSE", LONG1, "LONG1", LONG4, "LONG4", BINBYTES, "BINBYTES",
      SHORT_BINBYTES, "SHORT_BINBYTES", SHORT_BINUNICODE, "SHORT_BINUNICODE",
      BINUNICODE8, "BINUNICODE8", BINBYTES8, "BINBYTES8", EMPTY_SET, "EMPTY_SET",
      ADDITEMS, "ADDITEMS", FROZENSET, "FROZENSET", NEWOBJ_EX, "NEWOBJ_EX",
      STACK_GLOBAL, "STACK_GLOBAL", MEMOIZE, "MEMOIZE", FRAME, "FRAME", BYTEARRAY8, "BYTEARRAY8",
      NEXT_BUFFER, "NEXT_BUFFER", READONLY_BUFFER, "READONLY_BUFFER",
      // protocol 0/1 text opcodes: named so the refusal is readable
      (int) 'I', "INT", (int) 'L', "LONG", (int) 'F', "FLOAT", (int) 'S', "STRING",
      (int) 'T', "BINSTRING", (int) 'U', "SHORT_BINSTRING", (int) 'V', "UNICODE", (int) 'i', "INST",
      (int) 'o', "OBJ", (int) 'p', "PUT", (int) 'g', "GET", (int) 'P', "PERSID",
      (int) 'Q', "BINPERSID", 0x82, "EXT1", 0x83, "EXT2", 0x84, "EXT4",
    };
    for (int i = 0; i < table.length; i += 2) {
      NAMES.put((Integer) table[i], (String) table[i + 1]);
    }
  }

  private Opcodes() {}

  static boolean isKnown(int op) {
    return NAMES.containsKey(op);
  }

  static String name(int op) {
    return NAMES.getOrDefault(op, "opcode " + hex(op));
  }

  static String hex(int op) {
    return String.format(Locale.ROOT, "0x%02x", op);
  }
}
