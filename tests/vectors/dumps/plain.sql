--
-- PostgreSQL database dump
--

\restrict dGCHaNfeZ9aP5JSH1MMWUU2IyWsnzNLiBge6EP18rb8ZDtumMKx8trKyh2loh3O

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: audit; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA audit;


ALTER SCHEMA audit OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: log; Type: TABLE; Schema: audit; Owner: postgres
--

CREATE TABLE audit.log (
    id integer,
    what text
);


ALTER TABLE audit.log OWNER TO postgres;

--
-- Name: empty_table; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.empty_table (
    id integer,
    note text
);


ALTER TABLE public.empty_table OWNER TO postgres;

--
-- Name: stations; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.stations (
    id integer NOT NULL,
    name text NOT NULL
);


ALTER TABLE public.stations OWNER TO postgres;

--
-- Name: stations_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.stations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.stations_id_seq OWNER TO postgres;

--
-- Name: stations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
--

ALTER SEQUENCE public.stations_id_seq OWNED BY public.stations.id;


--
-- Name: weighings; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.weighings (
    id bigint NOT NULL,
    station_id integer,
    gross_kg numeric(10,1),
    taken_at timestamp with time zone
);


ALTER TABLE public.weighings OWNER TO postgres;

--
-- Name: weighings_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.weighings_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE public.weighings_id_seq OWNER TO postgres;

--
-- Name: weighings_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
--

ALTER SEQUENCE public.weighings_id_seq OWNED BY public.weighings.id;


--
-- Name: stations id; Type: DEFAULT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.stations ALTER COLUMN id SET DEFAULT nextval('public.stations_id_seq'::regclass);


--
-- Name: weighings id; Type: DEFAULT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.weighings ALTER COLUMN id SET DEFAULT nextval('public.weighings_id_seq'::regclass);


--
-- Data for Name: log; Type: TABLE DATA; Schema: audit; Owner: postgres
--

COPY audit.log (id, what) FROM stdin;
1	created
2	weighed
\.


--
-- Data for Name: empty_table; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.empty_table (id, note) FROM stdin;
\.


--
-- Data for Name: stations; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.stations (id, name) FROM stdin;
1	north gate
2	south gate
3	rail spur
\.


--
-- Data for Name: weighings; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.weighings (id, station_id, gross_kg, taken_at) FROM stdin;
1	2	1007.5	2024-05-01 08:03:00+00
2	3	1015.0	2024-05-01 08:06:00+00
3	1	1022.5	2024-05-01 08:09:00+00
4	2	1030.0	2024-05-01 08:12:00+00
5	3	1037.5	2024-05-01 08:15:00+00
6	1	1045.0	2024-05-01 08:18:00+00
7	2	1052.5	2024-05-01 08:21:00+00
8	3	1060.0	2024-05-01 08:24:00+00
9	1	1067.5	2024-05-01 08:27:00+00
10	2	1075.0	2024-05-01 08:30:00+00
11	3	1082.5	2024-05-01 08:33:00+00
12	1	1090.0	2024-05-01 08:36:00+00
13	2	1097.5	2024-05-01 08:39:00+00
14	3	1105.0	2024-05-01 08:42:00+00
15	1	1112.5	2024-05-01 08:45:00+00
16	2	1120.0	2024-05-01 08:48:00+00
17	3	1127.5	2024-05-01 08:51:00+00
18	1	1135.0	2024-05-01 08:54:00+00
19	2	1142.5	2024-05-01 08:57:00+00
20	3	1150.0	2024-05-01 09:00:00+00
21	1	1157.5	2024-05-01 09:03:00+00
22	2	1165.0	2024-05-01 09:06:00+00
23	3	1172.5	2024-05-01 09:09:00+00
24	1	1180.0	2024-05-01 09:12:00+00
25	2	1187.5	2024-05-01 09:15:00+00
26	3	1195.0	2024-05-01 09:18:00+00
27	1	1202.5	2024-05-01 09:21:00+00
28	2	1210.0	2024-05-01 09:24:00+00
29	3	1217.5	2024-05-01 09:27:00+00
30	1	1225.0	2024-05-01 09:30:00+00
31	2	1232.5	2024-05-01 09:33:00+00
32	3	1240.0	2024-05-01 09:36:00+00
33	1	1247.5	2024-05-01 09:39:00+00
34	2	1255.0	2024-05-01 09:42:00+00
35	3	1262.5	2024-05-01 09:45:00+00
36	1	1270.0	2024-05-01 09:48:00+00
37	2	1277.5	2024-05-01 09:51:00+00
38	3	1285.0	2024-05-01 09:54:00+00
39	1	1292.5	2024-05-01 09:57:00+00
40	2	1300.0	2024-05-01 10:00:00+00
\.


--
-- Name: stations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres
--

SELECT pg_catalog.setval('public.stations_id_seq', 3, true);


--
-- Name: weighings_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres
--

SELECT pg_catalog.setval('public.weighings_id_seq', 40, true);


--
-- Name: stations stations_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.stations
    ADD CONSTRAINT stations_pkey PRIMARY KEY (id);


--
-- Name: weighings weighings_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.weighings
    ADD CONSTRAINT weighings_pkey PRIMARY KEY (id);


--
-- Name: weighings weighings_station_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.weighings
    ADD CONSTRAINT weighings_station_id_fkey FOREIGN KEY (station_id) REFERENCES public.stations(id);


--
-- PostgreSQL database dump complete
--

\unrestrict dGCHaNfeZ9aP5JSH1MMWUU2IyWsnzNLiBge6EP18rb8ZDtumMKx8trKyh2loh3O

